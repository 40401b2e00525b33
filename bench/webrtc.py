"""The WebRTC benchmark: capture -> decoded at the other peer (two processes on this machine),
side by side in one run, for this project, RTCBot 0.2.5's RTCConnection on the same aiortc,
and aiortc's plain recipe (a VideoStreamTrack fed from a queue), idle and with both cores
kept busy by other processes. Figures are latencies (p50, p99), frames decoded, frames lost,
and CPU per end (share of one core). Ratios are to RTCBot 0.2.5 in the same setting.

    python -m bench.webrtc [--sizes 640x480,1280x720] [--seconds 8] [--json F]

RTCBot 0.2.5 runs with the python of the venv that scripts/bench-webrtc makes
(``--rtcbot025-python``); without it, that column is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

PEER = Path(__file__).resolve().with_name("webrtc_peer.py")
DEFAULT_RTCBOT025 = Path(__file__).resolve().parents[1] / ".venv-rtcbot025" / "bin" / "python"
#: Frames captured in the first second (connecting, first key frame) are not measured.
SETTLE_NS = 1_000_000_000
BUSY = "while True: pass"


def _peer(python: str, impl: str, role: str, size: str, seconds: float) -> subprocess.Popen[str]:
    command = [python, str(PEER), "--impl", impl, "--role", role, "--size", size, "--seconds", str(seconds)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _readJson(process: subprocess.Popen[str]) -> Any:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"a benchmark peer (pid {process.pid}) ended early; its error is above")
    return json.loads(line)


def _tell(process: subprocess.Popen[str], value: Any) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(value) + "\n")
    process.stdin.flush()


def runPair(python: str, impl: str, size: str, seconds: float) -> dict[str, Any]:
    """One sender and one receiver of ``impl``; the per-frame latencies and CPU of both."""
    receiver = _peer(python, impl, "receive", size, seconds)
    sender = _peer(python, impl, "send", size, seconds)
    try:
        _tell(receiver, _readJson(sender))
        _tell(sender, _readJson(receiver))
        sent = _readJson(sender)
        _tell(receiver, "stop")
        received = _readJson(receiver)
    finally:
        for process in (sender, receiver):
            process.wait(30)
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
    captured = {int(n): t for n, t in sent["times"].items()}
    decoded = {int(n): t for n, t in received["times"].items()}
    start = min(captured.values()) + SETTLE_NS
    measured = [n for n in captured if captured[n] >= start]
    latencies = np.array([decoded[n] - captured[n] for n in measured if n in decoded], dtype=np.float64) / 1e6
    return {
        "frames captured": len(measured),
        "frames decoded": int(latencies.size),
        "p50 ms": round(float(np.percentile(latencies, 50)), 1) if latencies.size else None,
        "p99 ms": round(float(np.percentile(latencies, 99)), 1) if latencies.size else None,
        "sender CPU %": round(100 * sent["cpu"] / sent["wall"], 1),
        "receiver CPU %": round(100 * received["cpu"] / received["wall"], 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Runs every setting and prints (and writes) the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rtcbot025-python", default=str(DEFAULT_RTCBOT025))
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    implementations = [("rtcbot", sys.executable), ("aiortc", sys.executable)]
    if Path(options.rtcbot025_python).exists():
        implementations.insert(1, ("rtcbot025", options.rtcbot025_python))
    else:
        print(f"RTCBot 0.2.5 left out: no {options.rtcbot025_python} (scripts/bench-webrtc makes it)", file=sys.stderr)
    results = []
    for load in ("idle", "both cores busy"):
        busy = (
            [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(os.cpu_count() or 1)]
            if load != "idle"
            else []
        )
        try:
            for size in options.sizes.split(","):
                for impl, python in implementations:
                    row = {"load": load, "size": size, "impl": impl, **runPair(python, impl, size, options.seconds)}
                    print(json.dumps(row), flush=True)
                    results.append(row)
        finally:
            for process in busy:
                process.kill()
                process.wait()
    for row in results:
        reference = next(
            (r for r in results if r["impl"] == "rtcbot025" and (r["load"], r["size"]) == (row["load"], row["size"])),
            None,
        )
        if reference and row["p50 ms"] and reference["p50 ms"]:
            row["p50 ÷ RTCBot 0.2.5"] = round(row["p50 ms"] / reference["p50 ms"], 2)
            row["p99 ÷ RTCBot 0.2.5"] = round(row["p99 ms"] / reference["p99 ms"], 2)
    print()
    columns = list(results[0])
    for key in ("p50 ÷ RTCBot 0.2.5", "p99 ÷ RTCBot 0.2.5"):
        if key not in columns:
            columns.append(key)
    print(" | ".join(columns))
    for row in results:
        print(" | ".join(str(row.get(column, "")) for column in columns))
    if options.json is not None:
        options.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
