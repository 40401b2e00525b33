"""A peer in another process (run in a network namespace by the tests): it answers the offer
read from stdin, sends a synthetic camera and a 1 kHz tone, echoes every message, and reports
on the video it receives when asked ``{"report": true}``. Exits when stdin closes.

    python -m tests.webrtc.remotepeer
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from rtcbot import SyntheticCamera, SyntheticMicrophone
from rtcbot.webrtc import RTCConnection

from .peers import patternError


class VideoReport:
    """Counts the frames received, those that show the test pattern faithfully (their bar
    codes agree and they differ from the pattern by under 12 levels), their order and the
    numbers seen twice (a damaged picture can repeat the last good one's content)."""

    def __init__(self) -> None:
        self.frames = 0
        self.faithful = 0
        self.numbers: list[int] = []

    def put_nowait(self, picture: Any) -> None:
        number, error = patternError(picture)
        self.frames += 1
        if number is not None and error < 12:
            self.faithful += 1
            self.numbers.append(number)

    def summary(self) -> dict[str, Any]:
        repeats = len(self.numbers) - len(set(self.numbers))
        return {
            "frames": self.frames,
            "faithful": self.faithful,
            "inOrder": self.numbers == sorted(self.numbers),
            "repeats": repeats,
        }


async def main() -> None:
    loop = asyncio.get_running_loop()
    offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    camera = SyntheticCamera(width=320, height=240, fps=30)
    microphone = SyntheticMicrophone(frequency=1000, amplitude=0.4, blocksize=960)
    connection = RTCConnection()
    report = VideoReport()
    connection.video.putSubscription(camera)
    connection.audio.putSubscription(microphone)
    connection.video.subscribe(report)

    @connection.subscribe
    def echo(message: Any) -> None:
        connection.put_nowait(report.summary() if message == {"report": True} else {"echo": message})

    answer = await connection.getLocalDescription(offer)
    print(json.dumps(answer), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
    await connection.close()
    camera.close()
    microphone.close()
    await asyncio.gather(camera, microphone)


if __name__ == "__main__":
    asyncio.run(main())
