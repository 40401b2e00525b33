"""CVCamera against a bare OpenCV capture loop, in the same run.

    .venv/bin/python -m bench.camera [--seconds 3]

The source is an MJPG file written by OpenCV, looped. "bare" grabs and decodes into one
reused buffer in a single process (the least work capture can be); rtcbot decodes into a
shared-memory slot in its child and hands every frame to a subscriber in the parent. The
ratio of their frame rates is what the process and the transport cost; the latency is from
the end of grab() to the subscriber, at 30 fps.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rtcbot import CVCamera, Frame
from rtcbot_tools.stages import percentiles

from .transport import WARMUP_NS


def writeClip(path: Path, width: int, height: int, frames: int = 60) -> Path:
    """An MJPG file of ``frames`` frames of moving noise (hard to compress, like a real scene)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (width, height))
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (height, width, 3), np.uint8)
    for index in range(frames):
        writer.write(np.roll(base, index * 8, axis=1))
    writer.release()
    return path


def bareCaptureFps(path: Path, seconds: float) -> float:
    """Frames per second of grab + retrieve into one reused buffer, in this process."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    buffer = np.empty((height, width, 3), np.uint8)
    frames, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        if not capture.grab():
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        capture.retrieve(image=buffer)
        frames += 1
    capture.release()
    return frames / seconds


async def cameraRun(path: Path, seconds: float, fps: float) -> tuple[float, list[int], int]:
    """Frames per second at a subscriber, capture-to-subscriber latencies (ns), drops."""
    camera = CVCamera(cameranumber=path, fps=fps, repeat=True)
    latencies: list[int] = []
    counted = [0]
    start = [0]

    def onFrame(frame: Frame) -> None:
        now = time.monotonic_ns()
        if not start[0]:
            start[0] = now
        if now - start[0] > WARMUP_NS:
            counted[0] += 1
            latencies.append(now - frame.timestamp)

    camera.subscribe(onFrame)
    await camera.onReady()
    await asyncio.sleep(seconds + WARMUP_NS / 1e9)
    camera.close()
    await camera
    return counted[0] / seconds, latencies, camera.statistics().fromChild.dropped["slotsFull"]


async def measure(seconds: float) -> list[dict[str, Any]]:
    """Both, at 640x480 and 1920x1080: one result row per size."""
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for width, height in ((640, 480), (1920, 1080)):
            clip = writeClip(Path(directory) / f"clip{width}.avi", width, height)
            bare = bareCaptureFps(clip, seconds)
            flatOut, _, dropped = await cameraRun(clip, seconds, fps=0)
            _, paced, _ = await cameraRun(clip, seconds, fps=30)
            rows.append(
                {
                    "size": f"{width}x{height}",
                    "bareFps": round(bare, 1),
                    "rtcbotFps": round(flatOut, 1),
                    "ratio": round(flatOut / bare, 2),
                    "droppedFlatOut": dropped,
                    "latencyAt30FpsUs": percentiles(paced),
                }
            )
    return rows


def main() -> None:
    """Runs the camera benchmark and prints one line per size."""
    parser = argparse.ArgumentParser(description="CVCamera vs a bare OpenCV capture loop")
    parser.add_argument("--seconds", type=float, default=3.0)
    arguments = parser.parse_args()
    for row in asyncio.run(measure(arguments.seconds)):
        latency = row["latencyAt30FpsUs"]
        print(
            f"{row['size']:>10}: bare {row['bareFps']:7.1f} fps, CVCamera {row['rtcbotFps']:7.1f} fps "
            f"(ratio {row['ratio']:.2f}, {row['droppedFlatOut']} dropped flat out); "
            f"grab -> subscriber at 30 fps p50 {latency['p50']:.0f} us, p99 {latency['p99']:.0f} us"
        )


if __name__ == "__main__":
    main()
