"""Named-stream benchmark: a frame source to 1, 4 and 8 other programs, side by side.

    .venv/bin/python -m bench.streams [--seconds 2] [--quick] [--json out.json]

In the same run, for 640x480 and 1920x1080 frames at 30 fps and flat out: rtcbot's
in-program subscribers (the reference), programs attached to an rtcbot publication,
rawshm (a bare ring, no safety), pyzmq (``send(copy=False)`` over ipc://) and iceoryx2
(a loaned payload). Latency is capture → the receiver's coroutine resumed, pooled over the
receivers. Per setting, rtcbot's publisher also runs with no program attached (``x0``): the
cost that attached programs add to the publisher is measured against it. The machine is
shared and noisy: read the ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rtcbot_tools.stages import percentiles

from . import CHECKOUT

SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
RATES = {"30 fps": 30.0, "flat out": 0.0}
TRANSPORTS = ["inprogram", "rtcbot", "rawshm", "zmq", "iceoryx2"]
PEER = [sys.executable, "-m", "bench.streams_peer"]


@dataclass
class Cell:
    transport: str
    size: str
    rate: str
    receivers: int
    sent: int
    seconds: float
    latencyUs: dict[str, float]
    delivered: float
    """Frames a receiver got, as a share of those sent (mean over receivers)."""
    senderCpuUsPerFrame: float
    senderCpuPercent: float
    receiverCpuUsPerFrame: float
    copiedBytesPerFrame: float
    """Bytes copied into each receiving program per frame: 0 when its frames are views of
    the sender's shared memory (checked in /proc/self/maps), else the frame's size."""
    copiedBytes: int = 0
    note: str = ""


async def _resultOf(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = await process.stdout.readline()
            if not line:
                err = b"" if process.stderr is None else await process.stderr.read()
                raise RuntimeError(f"a benchmark program ended without a result: {err.decode()[-1500:]}")
            value = json.loads(line)
            if "result" in value:
                return dict(value["result"])


async def _waitReady(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if not line or "ready" not in json.loads(line):
        err = b"" if process.stderr is None else await process.stderr.read()
        raise RuntimeError(f"the sender did not start: {line!r} {err.decode()[-1500:]}")


def _mean(values: list[float]) -> float:
    """The mean of ``values`` (0 for none: the publisher-alone cell has no receiver)."""
    return float(np.mean(values)) if values else 0.0


async def runCell(transport: str, size: str, rate: str, receivers: int, seconds: float, index: int, slots: int) -> Cell:
    """Runs one sender and its receivers (each a program of its own) and sums them up;
    rtcbot's sender has ``slots`` slots."""
    width, height = SIZES[size]
    name = f"bench{index}"
    common = [name, "--width", str(width), "--height", str(height), "--fps", str(RATES[rate])]
    pipes: dict[str, Any] = dict(
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=1 << 28, cwd=CHECKOUT
    )
    sender = await asyncio.create_subprocess_exec(
        *PEER,
        "send",
        transport,
        *common,
        "--seconds",
        str(seconds),
        "--receivers",
        str(receivers),
        "--slots",
        str(slots),
        **pipes,
    )
    programs = [sender]
    try:
        await _waitReady(sender)
        if transport != "inprogram":
            programs += [
                await asyncio.create_subprocess_exec(*PEER, "receive", transport, *common, **pipes)
                for _ in range(receivers)
            ]
        results = [await _resultOf(program, seconds + 60) for program in programs]
    finally:
        for program in programs:
            if program.returncode is None:
                try:
                    await asyncio.wait_for(program.wait(), 10)
                except TimeoutError:
                    program.kill()
                    await program.wait()
    sent = results[0]
    received = sent["receivers"] if transport == "inprogram" else results[1:]
    latencies = [np.asarray(r["latenciesNs"], np.int64) for r in received]
    sentCount = max(int(sent["sent"]), 1)
    return Cell(
        transport,
        size,
        rate,
        receivers,
        sentCount,
        seconds,
        percentiles(np.concatenate(latencies) if latencies else []),
        round(_mean([r["frames"] for r in received]) / sentCount, 3),
        round(sent["cpuSeconds"] * 1e6 / sentCount, 1),
        round(sent["cpuSeconds"] * 100 / seconds, 1),
        round(_mean([r["cpuSeconds"] * 1e6 / max(r["frames"], 1) for r in received]), 1),
        _mean([r["copiedBytesPerFrame"] or 0 for r in received]),
        int(sent.get("copiedBytes", 0)),
        f"source dropped {sent.get('sourceDropped', 0)}, skipped {sent.get('skipped', 0)}",
    )


async def runAll(seconds: float, quick: bool, transports: list[str], counts: list[int]) -> list[Cell]:
    """Every cell of the matrix, one after the other (``quick``: 640x480 at 30 fps only)."""
    cells = []
    sizes = ["640x480"] if quick else list(SIZES)
    rates = ["30 fps"] if quick else list(RATES)
    index = 0
    slots = 6 + 2 * max(counts)  # one ring size for every rtcbot cell, so that their CPU compares
    alone = [(0, "rtcbot")] if "rtcbot" in transports else []  # the publisher's own cost
    runs = alone + [(receivers, transport) for receivers in counts for transport in transports]
    for size in sizes:
        for rate in rates:
            for receivers, transport in runs:
                index += 1
                print(f"  {transport} {size} {rate} x{receivers}", file=sys.stderr, flush=True)
                cells.append(await runCell(transport, size, rate, receivers, seconds, index, slots))
    return cells


def _find(cells: list[Cell], transport: str, size: str, rate: str, receivers: int) -> Cell | None:
    for cell in cells:
        if (cell.transport, cell.size, cell.rate, cell.receivers) == (transport, size, rate, receivers):
            return cell
    return None


def ratios(cells: list[Cell]) -> list[dict[str, Any]]:
    """The goals' ratios per setting: attached ÷ in-program, ÷ pyzmq and ÷ iceoryx2 (p50),
    and the publisher's CPU per frame with that many attached ÷ with none attached."""
    rows = []
    for cell in cells:
        if cell.transport != "rtcbot" or not cell.receivers:
            continue
        row: dict[str, Any] = {"size": cell.size, "rate": cell.rate, "receivers": cell.receivers}
        for other in ("inprogram", "zmq", "iceoryx2", "rawshm"):
            found = _find(cells, other, cell.size, cell.rate, cell.receivers)
            if found is not None and found.latencyUs and cell.latencyUs:
                row[f"p50 ÷ {other}"] = round(cell.latencyUs["p50"] / found.latencyUs["p50"], 2)
        alone = _find(cells, "rtcbot", cell.size, cell.rate, 0)
        if alone is not None and alone.senderCpuUsPerFrame:
            row["publisher CPU ÷ none attached"] = round(cell.senderCpuUsPerFrame / alone.senderCpuUsPerFrame, 2)
        rows.append(row)
    return rows


def table(cells: list[Cell]) -> str:
    """The cells for people."""
    lines = [
        f"{'transport':10} {'size':10} {'rate':9} {'n':>2} {'p50 ms':>7} {'p99 ms':>7} {'got':>5} "
        f"{'send us/f':>9} {'recv us/f':>9} {'copied B/f':>10}"
    ]
    for c in cells:
        p50 = c.latencyUs.get("p50", float("nan")) / 1000
        p99 = c.latencyUs.get("p99", float("nan")) / 1000
        lines.append(
            f"{c.transport:10} {c.size:10} {c.rate:9} {c.receivers:>2} {p50:7.2f} {p99:7.2f} {c.delivered:5.2f} "
            f"{c.senderCpuUsPerFrame:9.0f} {c.receiverCpuUsPerFrame:9.0f} {c.copiedBytesPerFrame:10.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    """Runs the benchmark and prints the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--quick", action="store_true", help="640x480 at 30 fps only (--programs sets the numbers of programs)"
    )
    parser.add_argument("--transports", default=",".join(TRANSPORTS))
    parser.add_argument("--programs", default="1,4,8", help="numbers of receiving programs")
    parser.add_argument("--json", default="streams-benchmark.json")
    arguments = parser.parse_args()
    transports = arguments.transports.split(",")
    counts = [int(n) for n in arguments.programs.split(",")]
    cells = asyncio.run(runAll(arguments.seconds, arguments.quick, transports, counts))
    print(table(cells))
    found = ratios(cells)
    for row in found:
        print(row)
    with open(arguments.json, "w") as out:
        json.dump(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "cells": [asdict(c) for c in cells],
                "ratios": found,
            },
            out,
            indent=1,
        )


if __name__ == "__main__":
    main()
