"""The measurement behind test_slow_subscriber, run in a fresh process of its own (as an
application would be), so that the test suite's own heap and collector cannot colour it:

    python -m tests.reliability.stallprobe      (prints one JSON object)
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np

from rtcbot import Frame, MostRecentSubscription, SyntheticCamera
from rtcbot_tools.usage import residentMb

FPS = 200
PHASE_S = 0.5
ROUNDS = 24


def _p99sUs(latencies: dict[bool, list[list[int]]]) -> dict[bool, float]:
    """Each mode's p99 in µs: the median over its phases of each phase's p99, so that one
    phase hit by the machine's own hiccups cannot decide the comparison."""
    return {
        mode: float(np.median([np.percentile(phase, 99) for phase in phases])) / 1000
        for mode, phases in latencies.items()
    }


def _slotsFull(camera: SyntheticCamera) -> int:
    return camera.statistics().fromChild.dropped["slotsFull"]


async def measure() -> dict[str, Any]:
    """Runs the phases; returns the p99s (µs), frames published per phase, drops (in the
    phases without and with the stalled subscriber) and memory."""
    camera = SyntheticCamera(320, 240, fps=FPS)
    latencies: dict[bool, list[list[int]]] = {False: [], True: []}  # per phase
    current: list[int] = []  # the phase going on (first: the warm-up, not counted)
    published: dict[bool, list[int]] = {False: [], True: []}
    dropped: dict[bool, int] = {False: 0, True: 0}

    async def subscriber() -> None:
        subscription = camera.subscribe(MostRecentSubscription())
        while True:
            frame = await subscription.get()
            current.append(time.monotonic_ns() - frame.timestamp)
            del frame

    async def staller() -> None:
        """Takes a frame, then sits on it for 2 s (never blocking the loop), again and again."""
        subscription = camera.subscribe(MostRecentSubscription())
        while True:
            frame: Frame = await subscription.get()
            await asyncio.sleep(2.0)
            del frame

    readers = [asyncio.ensure_future(subscriber()) for _ in range(2)]
    stall: asyncio.Future[None] | None = None
    try:
        await camera.onReady()
        await asyncio.sleep(0.5)  # warm up
        residentAtStart = residentMb()
        for phase in range(2 * ROUNDS):  # alternate, so drift of the machine hits both alike
            stalling = phase % 2 == 1
            current = []
            latencies[stalling].append(current)
            if stalling:
                stall = asyncio.ensure_future(staller())
            before, droppedBefore = camera.statistics().published, _slotsFull(camera)
            await asyncio.sleep(PHASE_S)
            published[stalling].append(camera.statistics().published - before)
            dropped[stalling] += _slotsFull(camera) - droppedBefore
            if stall is not None:
                stall.cancel()
                stall = None
        residentAtEnd = residentMb()
    finally:
        for task in [*readers, *([stall] if stall else [])]:
            task.cancel()
        camera.close()
        await camera
    p99 = _p99sUs(latencies)
    return {
        "p99Us": {"without": p99[False], "with": p99[True]},
        "published": {"without": published[False], "with": published[True]},
        "dropped": {"without": dropped[False], "with": dropped[True]},
        "residentGrowthMb": residentAtEnd - residentAtStart,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
