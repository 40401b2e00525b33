"""The far end of ``rtcbot-latency --via webrtc``, run as its own process: it answers the
offer read from stdin, decodes the bar code of each picture it receives, and reports
``[frame number, decoded ns, subscriber ns]`` for each over the data channel. Ends when stdin
closes.

    python -m rtcbot_tools.webrtcpeer
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from rtcbot import Frame
from rtcbot.devices.testpattern import decodeStamp
from rtcbot.webrtc import RTCConnection


async def main() -> None:
    """Answers one offer and reports on every picture until stdin closes."""
    loop = asyncio.get_running_loop()
    offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    connection = RTCConnection()

    def report(picture: Frame) -> None:
        resumed = time.monotonic_ns()
        top, bottom = decodeStamp(picture)
        if top == bottom:
            connection.put_nowait([top, picture.receivedNs, resumed])

    connection.video.subscribe(report)
    print(json.dumps(await connection.getLocalDescription(offer)), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
