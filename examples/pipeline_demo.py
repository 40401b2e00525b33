"""A live pipeline on the rtcbot base classes: a threaded test-pattern camera feeding a fast
subscriber, a deliberately slow one, and a producer-consumer that measures brightness.

Run: scripts/demo [--seconds N] [--fps N]. It prints what each stage saw and the latency
from capture to delivery. The slow subscriber keeps only the latest frame, so it sees fewer
frames but never old ones, and it does not slow the camera or the others down.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass

import numpy as np

from rtcbot import (
    MostRecentSubscription,
    SubscriptionClosed,
    SubscriptionProducerConsumer,
    ThreadedSubscriptionProducer,
)


@dataclass(frozen=True)
class Frame:
    sequence: int
    capturedNs: int
    pixels: np.ndarray


class TestPatternCamera(ThreadedSubscriptionProducer):
    """A camera stand-in: a bright bar sweeping across a 480x640 BGR image at ``fps``."""

    def __init__(self, fps: float) -> None:
        super().__init__(defaultSubscriptionClass=MostRecentSubscription)
        self.fps = fps

    def _producer(self) -> None:
        self._setReady(True)
        period = 1.0 / self.fps
        deadline = time.monotonic()
        sequence = 0
        while not self._shouldClose:
            pixels = np.zeros((480, 640, 3), np.uint8)
            column = (sequence * 8) % 640
            pixels[:, column : column + 32] = 255
            self._put_nowait(Frame(sequence, time.monotonic_ns(), pixels))
            sequence += 1
            deadline += period
            time.sleep(max(0.0, deadline - time.monotonic()))


class BrightnessMeter(SubscriptionProducerConsumer):
    """Consumes frames, publishes (sequence, mean brightness)."""

    def __init__(self) -> None:
        super().__init__(directPutSubscriptionType=MostRecentSubscription)

    async def run(self) -> None:
        try:
            while True:
                frame: Frame = await self._get()
                self._put_nowait((frame.sequence, float(frame.pixels.mean())))
        except SubscriptionClosed:
            pass


async def main(seconds: float, fps: float) -> None:
    camera = TestPatternCamera(fps)
    meter = BrightnessMeter()
    meter.putSubscription(camera)
    fastLatencies: list[float] = []
    slowSequences: list[int] = []
    readings: list[tuple[int, float]] = []

    @camera.subscribe
    def onFrame(frame: Frame) -> None:
        fastLatencies.append((time.monotonic_ns() - frame.capturedNs) / 1e6)

    async def slowSubscriber() -> None:
        latest = camera.subscribe(MostRecentSubscription())
        while True:
            frame: Frame = await latest.get()
            slowSequences.append(frame.sequence)
            await asyncio.sleep(0.25)  # pretend to do heavy work

    async def readMeter() -> None:
        while True:
            readings.append(await meter.get())

    await camera.onReady()
    tasks = [asyncio.ensure_future(job) for job in (slowSubscriber(), readMeter(), meter.run())]
    await asyncio.sleep(seconds)
    camera.close()
    meter.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await camera

    produced = camera.statistics().published
    print(f"camera: {produced} frames in {seconds:.1f} s ({produced / seconds:.1f} fps requested {fps:g})")
    print(f"fast subscriber: {len(fastLatencies)} frames, capture->callback latency "
          f"p50 {statistics.median(fastLatencies):.3f} ms, max {max(fastLatencies):.3f} ms")
    print(f"slow subscriber (0.25 s per frame): {len(slowSequences)} frames, "
          f"always the newest: sequences {slowSequences[:6]}...")
    print(f"brightness meter: {len(readings)} readings, last {readings[-1][1]:.1f} "
          f"for frame {readings[-1][0]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to run (default 3)")
    parser.add_argument("--fps", type=float, default=30.0, help="camera frame rate (default 30)")
    arguments = parser.parse_args()
    if arguments.seconds <= 0 or arguments.fps <= 0:
        parser.error("--seconds and --fps must be positive")
    asyncio.run(main(arguments.seconds, arguments.fps))
