"""A live video source for tests: writes test-pattern frames as a YUV4MPEG2 stream to a
path (a FIFO), paced at a frame rate, the way ffmpeg -re would. Run as a script:

    python -m tests.devices.y4mwriter PATH --width W --height H --fps F --first N --count C
"""

from __future__ import annotations

import argparse
import contextlib
import time

import cv2
import numpy as np

from rtcbot.devices.testpattern import drawPattern


def writeStream(path: str, width: int, height: int, fps: float, first: int, count: int) -> None:
    frame = np.zeros((height, width, 3), np.uint8)
    with open(path, "wb", buffering=0) as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        start = time.monotonic()
        for index in range(count):
            delay = start + index / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            drawPattern(frame, first + index, time.monotonic_ns())
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=1_000_000)
    arguments = parser.parse_args()
    with contextlib.suppress(BrokenPipeError):  # the reader went away
        writeStream(arguments.path, arguments.width, arguments.height, arguments.fps, arguments.first, arguments.count)


if __name__ == "__main__":
    main()
