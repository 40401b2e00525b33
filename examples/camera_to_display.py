"""A camera shown in a window: two objects and one line to connect them.

Run: .venv/bin/python examples/camera_to_display.py [SOURCE] [--seconds N]
SOURCE is a camera index (0), a video file or a URL; without one it uses camera 0 if the
machine has one, else the synthetic camera. It runs until Ctrl-C (or N seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from rtcbot import CVCamera, CVDisplay, SyntheticCamera


async def main(source: str | None, seconds: float | None) -> None:
    if source is None and not os.path.exists("/dev/video0"):
        camera = SyntheticCamera(640, 480, fps=30)
    else:
        camera = CVCamera(640, 480, cameranumber=int(source) if (source or "0").isdigit() else source)
    display = CVDisplay("camera")
    display.putSubscription(camera)  # the display always shows the camera's latest frame
    try:
        await asyncio.wait_for(display.onClose(), seconds)  # closes on an error, e.g. no display
    except TimeoutError:
        pass
    finally:
        camera.close()
        display.close()
        await asyncio.gather(camera, display)
        print(f"{camera.statistics().published} frames captured")
    if camera.error or display.error:
        raise SystemExit(f"stopped: {camera.error or display.error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", help="camera index, video file or URL")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: run until Ctrl-C)")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments.source, arguments.seconds))
