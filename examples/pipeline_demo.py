"""A live pipeline: a synthetic camera in a child process feeding, through shared memory
and without copies, a fast subscriber, a deliberately slow one, and a processing stage.

Run: scripts/demo [--seconds N] [--fps N] [--size WxH]. It prints what each stage saw and
the latency from capture to delivery. The slow subscriber keeps only the latest frame, so
it sees fewer frames but never old ones, and it slows neither the camera nor the others.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from rtcbot import (
    Frame,
    MostRecentSubscription,
    SubscriptionClosed,
    SubscriptionProducerConsumer,
    SyntheticCamera,
)
from rtcbot.devices.testpattern import checkSize


class BrightnessMeter(SubscriptionProducerConsumer):
    """Consumes frames, publishes (frame sequence number, mean brightness)."""

    def __init__(self) -> None:
        super().__init__(directPutSubscriptionType=MostRecentSubscription)

    async def run(self) -> None:
        try:
            while True:
                frame: Frame = await self._get()
                self._put_nowait((frame.sequence, float(frame.mean())))
        except SubscriptionClosed:
            pass


async def main(seconds: float, fps: float, width: int, height: int) -> None:
    camera = SyntheticCamera(width, height, fps=fps)
    meter = BrightnessMeter()
    meter.putSubscription(camera)
    latencies: list[float] = []
    slowSequences: list[int] = []
    readings: list[tuple[int, float]] = []

    @camera.subscribe
    def onFrame(frame: Frame) -> None:
        latencies.append((time.monotonic_ns() - frame.timestamp) / 1e6)

    async def slowSubscriber() -> None:
        latest = camera.subscribe(MostRecentSubscription())
        while True:
            frame: Frame = await latest.get()
            slowSequences.append(frame.sequence)
            del frame  # a frame you hold keeps its shared-memory slot
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

    transport = camera.statistics().fromChild
    print(
        f"camera: {transport.frames} frames of {width}x{height} in {seconds:.1f} s "
        f"({transport.frames / seconds:.1f} fps, requested {fps:g}), "
        f"dropped {transport.dropped['slotsFull']}, peak slots in use {transport.peakSlotsInUse}"
    )
    print(
        f"fast subscriber: {len(latencies)} frames, capture->callback latency "
        f"p50 {statistics.median(latencies):.3f} ms, max {max(latencies):.3f} ms"
    )
    print(
        f"slow subscriber (0.25 s per frame): {len(slowSequences)} frames, "
        f"always the newest: sequences {slowSequences[:6]}..."
    )
    print(f"brightness meter: {len(readings)} readings, last {readings[-1][1]:.1f} for frame {readings[-1][0]}")


def parseSize(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
        checkSize(width, height)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}" if "x" in text else f"{text!r} is not WxH") from None
    return width, height


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to run (default 3)")
    parser.add_argument("--fps", type=float, default=30.0, help="camera frame rate (default 30)")
    parser.add_argument("--size", type=parseSize, default=(640, 480), help="frame size WxH (default 640x480)")
    arguments = parser.parse_args()
    if arguments.seconds <= 0 or arguments.fps <= 0:
        parser.error("--seconds and --fps must be positive")
    asyncio.run(main(arguments.seconds, arguments.fps, *arguments.size))
