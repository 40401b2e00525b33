"""The two baselines the transport is measured against, written here in full.

*rawshm*: the bare minimum of a shared-memory hand-over. The child copies the array into
one of a few slots of a shared mapping and writes the slot's number (one byte) to a pipe;
nothing else (no leases, no metadata beyond a timestamp, no fan-out machinery).

*pickle*: RTCBot 0.2.5's method. The child puts the array on a ``multiprocessing.Queue``
(pickled by its feeder thread); a thread in the parent ``get()``s it and hands it to the
event loop with ``call_soon_threadsafe``. The queue is bounded (2 items) so that a fast
child waits for the reader instead of queueing without end, RTCBot issue #40.
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

RAW_SLOTS = 8
Deliver = Callable[[int, int, Any], None]  # (captured at, announced at or 0, payload)
#: Writes frame ``index`` into an array (the default copies one of ``sourceFrames``).
Fill = Callable[[np.ndarray[Any, Any], int], None]


def sourceFrames(shape: tuple[int, ...], dtype: str) -> list[np.ndarray[Any, Any]]:
    """Four distinct arrays to cycle through, so copies are not all cache-hot."""
    rng = np.random.default_rng(1)
    return [rng.integers(0, 100, size=shape).astype(dtype) for _ in range(4)]


def _filler(shape: tuple[int, ...], dtype: str, fill: Fill | None) -> Fill:
    if fill is not None:
        return fill
    frames = sourceFrames(shape, dtype)
    return lambda array, index: np.copyto(array, frames[index % 4])


def nameProcess(name: str) -> None:
    """Shows ``name`` for this (child) process in ps, top and the profiler's process list."""
    ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name.encode()[:15]))  # PR_SET_NAME


def pace(start: float, index: int, fps: float) -> None:
    """Sleeps until frame ``index`` is due at ``fps`` (0: never sleeps)."""
    if fps:
        delay = start + index / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class RawRing:
    """A shared mapping of RAW_SLOTS slots plus two timestamps per slot (captured, announced)."""

    def __init__(self, nbytes: int) -> None:
        self.slotSize = -(-nbytes // mmap.PAGESIZE) * mmap.PAGESIZE
        self.mapping = mmap.mmap(-1, self.slotSize * RAW_SLOTS + mmap.PAGESIZE)
        self.stamps = np.ndarray((RAW_SLOTS, 2), np.int64, buffer=self.mapping, offset=self.slotSize * RAW_SLOTS)

    def slot(self, index: int, shape: tuple[int, ...], dtype: str) -> np.ndarray[Any, Any]:
        """Slot ``index`` of the mapping as an array of ``shape``/``dtype``."""
        return np.ndarray(shape, dtype, buffer=self.mapping, offset=index * self.slotSize)


def _rawWriter(
    ring: RawRing, writeFd: int, shape: tuple[int, ...], dtype: str, fps: float, seconds: float, fill: Fill | None
) -> None:
    nameProcess("rawshm-writer")
    fillFrame = _filler(shape, dtype, fill)
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        pace(start, index, fps)
        slot = index % RAW_SLOTS
        ring.stamps[slot, 0] = time.monotonic_ns()
        fillFrame(ring.slot(slot, shape, dtype), index)
        ring.stamps[slot, 1] = time.monotonic_ns()
        os.write(writeFd, bytes((slot,)))
        index += 1
    os.close(writeFd)


async def rawFromChild(
    shape: tuple[int, ...], dtype: str, fps: float, seconds: float, deliver: Deliver, fill: Fill | None = None
) -> int:
    """Runs the rawshm child; calls ``deliver`` per frame; returns frames the child wrote."""
    ring = RawRing(int(np.prod(shape)) * np.dtype(dtype).itemsize)
    readFd, writeFd = os.pipe()
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_rawWriter, args=(ring, writeFd, shape, dtype, fps, seconds, fill))
    child.start()
    os.close(writeFd)
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    written = 0

    def readable() -> None:
        nonlocal written
        data = os.read(readFd, 4096)
        if not data:
            loop.remove_reader(readFd)
            finished.set_result(None)
            return
        for slot in data:
            written += 1
            deliver(int(ring.stamps[slot, 0]), int(ring.stamps[slot, 1]), ring.slot(slot, shape, dtype))

    loop.add_reader(readFd, readable)
    await finished
    os.close(readFd)
    await asyncio.to_thread(child.join)
    child.close()
    ring.stamps = None  # type: ignore[assignment]
    return written


def _rawReader(ring: RawRing, readFd: int, writeFd: int, results: Any) -> None:
    nameProcess("rawshm-reader")
    os.close(writeFd)  # inherited from the parent; keeping it would hide the end of the stream
    latencies: list[int] = []
    while True:
        data = os.read(readFd, 4096)
        if not data:
            break
        now = time.monotonic_ns()
        latencies.extend(now - int(ring.stamps[slot, 0]) for slot in data)
    results.put(latencies)


async def rawToChild(shape: tuple[int, ...], dtype: str, fps: float, seconds: float) -> list[int]:
    """Parent writes slots and bytes; the child reads them. Returns the child's latencies."""
    ring = RawRing(int(np.prod(shape)) * np.dtype(dtype).itemsize)
    readFd, writeFd = os.pipe()
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    child = context.Process(target=_rawReader, args=(ring, readFd, writeFd, results))
    child.start()
    os.close(readFd)
    frames = sourceFrames(shape, dtype)
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        if fps:
            await asyncio.sleep(max(0.0, start + index / fps - time.monotonic()))
        slot = index % RAW_SLOTS
        ring.stamps[slot, 0] = time.monotonic_ns()
        np.copyto(ring.slot(slot, shape, dtype), frames[index % 4])
        os.write(writeFd, bytes((slot,)))
        index += 1
        if not fps:
            await asyncio.sleep(0)
    os.close(writeFd)
    latencies: list[int] = await asyncio.to_thread(results.get)
    await asyncio.to_thread(child.join)
    child.close()
    results.close()
    return latencies


def _pickleWriter(
    items: Any, shape: tuple[int, ...], dtype: str, fps: float, seconds: float, fill: Fill | None
) -> None:
    nameProcess("pickle-writer")
    frames = sourceFrames(shape, dtype) if fill is None else []
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        pace(start, index, fps)
        captured = time.monotonic_ns()
        if fill is None:
            frame = frames[index % 4]
        else:  # like a camera: a new array for every frame
            frame = np.empty(shape, dtype)
            fill(frame, index)
        items.put((captured, frame))
        index += 1
    items.put(None)
    items.close()
    items.join_thread()


async def pickleFromChild(
    shape: tuple[int, ...], dtype: str, fps: float, seconds: float, deliver: Deliver, fill: Fill | None = None
) -> int:
    """RTCBot 0.2.5's transport: mp.Queue, a reader thread, call_soon_threadsafe."""
    context = multiprocessing.get_context("fork")
    items = context.Queue(maxsize=2)  # unbounded, a fast child would queue without end (#40)
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    count = 0

    def onItem(item: Any) -> None:
        nonlocal count
        if item is None:
            finished.set_result(None)
            return
        count += 1
        deliver(item[0], 0, item[1])

    def readerThread() -> None:
        while True:
            item = items.get()
            loop.call_soon_threadsafe(onItem, item)
            if item is None:
                return

    child = context.Process(target=_pickleWriter, args=(items, shape, dtype, fps, seconds, fill))
    child.start()
    reader = threading.Thread(target=readerThread)
    reader.start()
    await finished
    await asyncio.to_thread(reader.join)
    await asyncio.to_thread(child.join)
    child.close()
    items.close()
    items.join_thread()
    return count


def _pickleReader(items: Any, results: Any) -> None:
    nameProcess("pickle-reader")
    latencies: list[int] = []
    while (item := items.get()) is not None:
        latencies.append(time.monotonic_ns() - item[0])
    results.put(latencies)


async def pickleToChild(shape: tuple[int, ...], dtype: str, fps: float, seconds: float) -> tuple[list[int], int]:
    """The parent puts (pickled) arrays on a bounded mp.Queue, dropping when it is full."""
    context = multiprocessing.get_context("fork")
    items = context.Queue(maxsize=4)
    results = context.SimpleQueue()
    child = context.Process(target=_pickleReader, args=(items, results))
    child.start()
    frames = sourceFrames(shape, dtype)
    start = time.monotonic()
    index = dropped = 0
    while time.monotonic() - start < seconds:
        if fps:
            await asyncio.sleep(max(0.0, start + index / fps - time.monotonic()))
        try:
            items.put_nowait((time.monotonic_ns(), frames[index % 4]))
        except queue.Full:
            dropped += 1
        index += 1
        if not fps:
            await asyncio.sleep(0)
    await asyncio.to_thread(items.put, None)
    latencies: list[int] = await asyncio.to_thread(results.get)
    await asyncio.to_thread(child.join)
    child.close()
    items.close()
    items.join_thread()
    results.close()
    return latencies, dropped
