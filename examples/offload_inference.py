"""Offloading work to a child process: edge detection on every camera frame, with the event
loop left free. The child always takes the newest frame, so it never falls behind.

Run: .venv/bin/python examples/offload_inference.py [--seconds N]
"""

from __future__ import annotations

import argparse
import asyncio

from rtcbot import ProcessSubscriptionProducerConsumer, SyntheticCamera


class EdgeDetector(ProcessSubscriptionProducerConsumer):
    """Frames in, the share of edge pixels out (as a small dict), computed in a child process."""

    def _producerConsumer(self) -> None:  # runs in the child process
        import cv2  # the child imports what it needs

        self._setReady(True)
        while True:  # _getLatest raises SubscriptionClosed when the object closes: that ends it
            frame = self._getLatest()  # skips frames that piled up while it was busy
            edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 100, 200)
            self._put_nowait({"frame": frame.sequence, "edges": float((edges > 0).mean())})
            del frame  # let its shared-memory slot go


async def main(seconds: float) -> None:
    camera = SyntheticCamera(640, 480, fps=30)
    detector = EdgeDetector()
    detector.putSubscription(camera)
    detector.subscribe(lambda result: print(f"frame {result['frame']}: {result['edges']:.1%} edge pixels"))
    await detector.onReady()  # raises SubscriptionClosed (with the child's error) if it failed
    await asyncio.sleep(seconds)
    for stage in (camera, detector):
        stage.close()
    await asyncio.gather(camera, detector)
    if detector.error is not None:
        raise SystemExit(f"the detector failed: {detector.error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    asyncio.run(main(parser.parse_args().seconds))
