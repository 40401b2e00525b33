"""Your own process producer: frames made in a child process, straight into shared memory.

Run: .venv/bin/python examples/process_producer.py [--seconds N]
The child draws a moving gradient into each claimed slot in place (no copy at all); the
event loop prints each frame's brightness and how long it took to arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

from rtcbot import Frame, ProcessSubscriptionProducer


class GradientCamera(ProcessSubscriptionProducer):
    """A 'camera' of grey frames with a gradient that moves, at ``fps``."""

    def __init__(self, width: int = 320, height: int = 240, fps: float = 10) -> None:
        self.width, self.height, self.fps = width, height, fps  # these reach the child
        super().__init__()

    def _producer(self) -> None:  # runs in the child process
        ramp = np.arange(self.width, dtype=np.uint8)[np.newaxis, :]
        self._setReady(True)
        step = 0
        while not self._sleep(1 / self.fps):  # wakes at once when the object is closed
            frame = self._claimFrame((self.height, self.width), np.uint8)
            if frame is None:
                continue  # every slot is held by subscribers: this frame is dropped (and counted)
            np.add(ramp, np.uint8(step % 256), out=frame)  # computed straight into shared memory
            self._put_nowait(frame)  # the slot itself is published: zero copies
            step += 8


async def main(seconds: float) -> None:
    camera = GradientCamera()

    def show(frame: Frame) -> None:
        delay = (time.monotonic_ns() - frame.timestamp) / 1e6
        print(f"frame {frame.sequence}: brightness {frame.mean():.1f}, arrived after {delay:.2f} ms")

    camera.subscribe(show)
    await camera.onReady()  # raises SubscriptionClosed (with the child's error) if it failed
    await asyncio.sleep(seconds)
    camera.close()
    await camera
    if camera.error is not None:
        raise SystemExit(f"the camera failed: {camera.error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    asyncio.run(main(parser.parse_args().seconds))
