"""A program using a camera, a microphone and a display, as a user writes it; the Ctrl-C
test interrupts it. It prints its children's pids once everything runs.

    python -m tests.reliability.ctrlc_program VIDEO_FILE
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from rtcbot import CVCamera, CVDisplay, Microphone


async def main(video: str) -> None:
    camera = CVCamera(cameranumber=video, repeat=True)
    display = CVDisplay("ctrl-c")
    display.putSubscription(camera)
    microphone = Microphone(channels=1)
    blocks = microphone.subscribe()
    try:
        await asyncio.gather(camera.onReady(), display.onReady(), microphone.onReady())
        await blocks.get()
        print(json.dumps([obj._process.pid for obj in (camera, display, microphone)]), flush=True)
        await asyncio.Event().wait()
    finally:
        for obj in (camera, display, microphone):
            obj.close()
        await asyncio.gather(camera, display, microphone)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1]))
