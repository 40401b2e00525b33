"""One program of the named-stream benchmark: a sender or a receiver of one transport.

    python -m bench.streams_peer send|receive TRANSPORT NAME --width W --height H
        [--fps F] [--seconds S] [--receivers N] [--slots N]

Transports: ``rtcbot`` (a process producer published, programs attach), ``inprogram``
(the same producer, its subscribers in the sending program: send only), ``rawshm`` (a
memfd ring and a byte per frame over a Unix socket: the bare minimum, no slot safety),
``zmq`` and ``iceoryx2`` (:mod:`.streambaselines`). Each program prints one JSON line
``{"ready": true}`` when set up and a last one with its results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rtcbot import Frame, attach
from rtcbot.base import ProcessSubscriptionProducer
from rtcbot_tools.baselines import pace, sourceFrames

#: Samples captured in the first WARMUP_NS of a run are left out.
WARMUP_NS = 300_000_000
END = "end"
RAW_SLOTS = 8
RAW_END = 255


def _cpuSeconds(pid: int) -> float | None:
    """CPU time of process ``pid`` (all its threads) so far, to the nanosecond (schedstat)."""
    try:
        total = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    except (OSError, ValueError):
        return None


def say(**fields: Any) -> None:
    """One JSON line on stdout."""
    print(json.dumps(fields), flush=True)


def inSharedMapping(array: np.ndarray[Any, Any]) -> bool:
    """True when ``array``'s memory lies in a shared mapping of this process (/proc/self/maps):
    a view of the sender's memory. Otherwise the frame was copied into this process."""
    address = array.ctypes.data
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, permissions = line.split()[:2]
        start, end = (int(value, 16) for value in span.split("-"))
        if start <= address < end:
            return permissions[3] == "s"
    return False


class Recorder:
    """Capture → resumed latencies of the frames after the warm-up, and whether a frame
    reached the receiver without a copy (checked on one frame)."""

    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.frames = 0
        self.copiedBytesPerFrame: int | None = None
        self._firstNs = 0

    def record(self, captureNs: int, array: np.ndarray[Any, Any]) -> None:
        """Notes one frame that has just reached the receiving coroutine."""
        now = time.monotonic_ns()
        self.frames += 1
        self._firstNs = self._firstNs or captureNs
        if captureNs - self._firstNs >= WARMUP_NS:
            self.latencies.append(now - captureNs)
            if self.copiedBytesPerFrame is None:
                self.copiedBytesPerFrame = 0 if inSharedMapping(array) else array.nbytes


class GatedSource(ProcessSubscriptionProducer[Any]):
    """Puts ``frames`` in turn (copied into slots) at ``fps`` for ``seconds`` once ``go``
    is set, then the item ``"end"``."""

    def __init__(self, frames: list[np.ndarray[Any, Any]], fps: float, seconds: float, go: Any, slots: int) -> None:
        self.frames, self.fps, self.seconds, self.go = frames, fps, seconds, go
        super().__init__(slotCount=slots)

    def _producer(self) -> None:
        self._setReady(True)
        while not self.go.wait(0.05):
            if self._shouldClose:
                return
        if self._shouldClose:  # also takes the programs attached since the last look
            return
        start = time.monotonic()
        index = 0
        while time.monotonic() - start < self.seconds and not self._shouldClose:
            pace(start, index, self.fps)
            self._put_nowait(self.frames[index % len(self.frames)])
            index += 1
        self._put_nowait(END)
        while not self._shouldClose:  # stays, so that its CPU time can still be read
            time.sleep(0.05)


async def sendRtcbot(arguments: argparse.Namespace, frames: list[np.ndarray[Any, Any]], local: bool) -> dict[str, Any]:
    """A process producer, published (or with ``local`` subscribers of its own), once the
    receivers are there."""
    import multiprocessing

    go = multiprocessing.get_context("forkserver").Event()
    source = GatedSource(
        frames, arguments.fps, arguments.seconds, go, slots=arguments.slots or 6 + 2 * arguments.receivers
    )
    await source.onReady()
    recorders = [Recorder() for _ in range(arguments.receivers if local else 0)]
    ended = asyncio.get_running_loop().create_future()

    async def subscriber(recorder: Recorder, queue: asyncio.Queue[Any]) -> None:
        while True:
            item = await queue.get()
            if isinstance(item, str):
                if not ended.done():
                    ended.set_result(None)
                return
            recorder.record(item.timestamp, item)
            del item

    tasks = [asyncio.ensure_future(subscriber(recorder, source.subscribe(asyncio.Queue()))) for recorder in recorders]
    publication = None
    if local:
        say(ready=True)
    else:
        publication = source.publish(arguments.name, slotsPerProgram=2)

        def onItem(item: Any) -> None:
            if isinstance(item, str) and not ended.done():
                ended.set_result(None)

        source.subscribe(onItem)
        say(ready=True)
        while len(publication.statistics().programs) < arguments.receivers:
            await asyncio.sleep(0.01)
    childPid = source._process.pid
    mainBefore, childBefore = _cpuSeconds(os.getpid()) or 0, _cpuSeconds(childPid) or 0
    go.set()
    await ended
    mainCpu = (_cpuSeconds(os.getpid()) or 0) - mainBefore
    cpu = mainCpu + (_cpuSeconds(childPid) or 0) - childBefore
    await asyncio.gather(*tasks)
    statistics = source.statistics()
    result: dict[str, Any] = {
        "sent": statistics.published - 1,
        "cpuSeconds": cpu,
        "mainCpuSeconds": mainCpu,
        "sourceDropped": statistics.fromChild.dropped["slotsFull"],
    }
    if local:
        result["receivers"] = [receiverResult(recorder, 0.0) for recorder in recorders]
    if publication is not None:
        published = publication.statistics()
        result["copiedBytes"] = published.copiedBytes
        result["skipped"] = sum(program.skipped for program in published.programs)
        await asyncio.sleep(0.2)  # the programs' last releases
        publication.close()
        await publication
    source.close()
    await source
    return result


def receiverResult(recorder: Recorder, cpuSeconds: float) -> dict[str, Any]:
    """What a receiver reports."""
    return {
        "frames": recorder.frames,
        "latenciesNs": recorder.latencies,
        "cpuSeconds": cpuSeconds,
        "copiedBytesPerFrame": recorder.copiedBytesPerFrame,
    }


async def receiveRtcbot(name: str, record: Callable[[int, np.ndarray[Any, Any]], None]) -> int:
    """Attaches to ``name`` and records each frame until the sender's end item."""
    stream = attach(name, reattach=False)
    queue = stream.subscribe()
    await stream.onReady()
    say(ready=True)
    frames = 0
    while True:
        item = await queue.get()
        if isinstance(item, str):
            break
        assert isinstance(item, Frame)
        record(item.timestamp, item)
        frames += 1
        del item
    stream.close()
    await stream
    return frames


def _rawPath(name: str) -> str:
    return f"/tmp/rtcbot-bench-raw-{name}.sock"


def sendRaw(arguments: argparse.Namespace, frames: list[np.ndarray[Any, Any]]) -> dict[str, Any]:
    """A memfd ring overwritten in turn; each receiver gets the slot's number per frame."""
    slotSize = -(-frames[0].nbytes // mmap.PAGESIZE) * mmap.PAGESIZE
    fd = os.memfd_create("rtcbot-bench-raw")
    os.ftruncate(fd, slotSize * RAW_SLOTS + mmap.PAGESIZE)
    ring = mmap.mmap(fd, slotSize * RAW_SLOTS + mmap.PAGESIZE)
    stamps = np.ndarray((RAW_SLOTS,), np.int64, buffer=ring, offset=slotSize * RAW_SLOTS)
    slots = [np.ndarray(frames[0].shape, frames[0].dtype, buffer=ring, offset=i * slotSize) for i in range(RAW_SLOTS)]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = _rawPath(arguments.name)
    if os.path.exists(path):
        os.unlink(path)
    listener.bind(path)
    listener.listen(16)
    say(ready=True)
    receivers = []
    for _ in range(arguments.receivers):
        connection, _ = listener.accept()
        socket.send_fds(connection, [json.dumps({"slotSize": slotSize}).encode()], [fd])
        receivers.append(connection)
    cpuBefore = _cpuSeconds(os.getpid()) or 0
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < arguments.seconds:
        pace(start, index, arguments.fps)
        slot = index % RAW_SLOTS
        stamps[slot] = time.monotonic_ns()
        np.copyto(slots[slot], frames[index % len(frames)])
        for connection in receivers:
            connection.send(bytes((slot,)))
        index += 1
    for connection in receivers:
        connection.send(bytes((RAW_END,)))
        connection.close()
    cpu = (_cpuSeconds(os.getpid()) or 0) - cpuBefore
    listener.close()
    os.unlink(path)
    del slots, stamps
    ring.close()
    os.close(fd)
    return {"sent": index, "cpuSeconds": cpu, "sourceDropped": 0}


async def receiveRaw(
    name: str, shape: tuple[int, ...], dtype: str, record: Callable[[int, np.ndarray[Any, Any]], None]
) -> int:
    """Maps the rawshm ring and records each announced slot until the end byte."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(_rawPath(name))
    message, fds, _, _ = socket.recv_fds(sock, 1024, 1)
    slotSize = json.loads(message)["slotSize"]
    ring = mmap.mmap(fds[0], slotSize * RAW_SLOTS + mmap.PAGESIZE, prot=mmap.PROT_READ)
    os.close(fds[0])
    stamps = np.ndarray((RAW_SLOTS,), np.int64, buffer=ring, offset=slotSize * RAW_SLOTS)
    slots = [np.ndarray(shape, dtype, buffer=ring, offset=i * slotSize) for i in range(RAW_SLOTS)]
    sock.setblocking(False)
    arrived: asyncio.Queue[int] = asyncio.Queue()

    def readable() -> None:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        for slot in data or bytes((RAW_END,)):
            arrived.put_nowait(slot)

    loop.add_reader(sock.fileno(), readable)
    say(ready=True)
    frames = 0
    while (slot := await arrived.get()) != RAW_END:
        assert slots[slot].shape == shape
        record(int(stamps[slot]), slots[slot])
        frames += 1
    loop.remove_reader(sock.fileno())
    sock.close()
    del slots, stamps
    ring.close()
    return frames


def _frames(arguments: argparse.Namespace) -> list[np.ndarray[Any, Any]]:
    return sourceFrames((arguments.height, arguments.width, 3), "uint8")


async def _receive(arguments: argparse.Namespace) -> dict[str, Any]:
    recorder = Recorder()
    shape, dtype = (arguments.height, arguments.width, 3), "uint8"
    cpuBefore = _cpuSeconds(os.getpid()) or 0
    if arguments.transport == "rtcbot":
        await receiveRtcbot(arguments.name, recorder.record)
    elif arguments.transport == "rawshm":
        await receiveRaw(arguments.name, shape, dtype, recorder.record)
    else:
        from . import streambaselines

        receive = streambaselines.receiveZmq if arguments.transport == "zmq" else streambaselines.receiveIceoryx2
        await receive(arguments.name, shape, dtype, recorder.record)
    return receiverResult(recorder, (_cpuSeconds(os.getpid()) or 0) - cpuBefore)


def _send(arguments: argparse.Namespace) -> dict[str, Any]:
    frames = _frames(arguments)
    if arguments.transport in ("rtcbot", "inprogram"):
        return asyncio.run(sendRtcbot(arguments, frames, local=arguments.transport == "inprogram"))
    if arguments.transport == "rawshm":
        return sendRaw(arguments, frames)
    from . import streambaselines

    send = streambaselines.sendZmq if arguments.transport == "zmq" else streambaselines.sendIceoryx2
    cpuBefore = _cpuSeconds(os.getpid()) or 0
    sent = send(arguments.name, frames, arguments.fps, arguments.seconds, arguments.receivers, lambda: say(ready=True))
    return {"sent": sent, "cpuSeconds": (_cpuSeconds(os.getpid()) or 0) - cpuBefore, "sourceDropped": 0}


def main() -> None:
    """Runs one sender or receiver and prints its result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["send", "receive"])
    parser.add_argument("transport", choices=["rtcbot", "inprogram", "rawshm", "zmq", "iceoryx2"])
    parser.add_argument("name")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--receivers", type=int, default=1)
    parser.add_argument("--slots", type=int, default=0, help="rtcbot's slots (default: 6 + 2 per receiver)")
    arguments = parser.parse_args()
    if arguments.role == "send":
        say(result=_send(arguments))
    else:
        say(result=asyncio.run(_receive(arguments)))


if __name__ == "__main__":
    main()
