"""A main program for the main-process-death test: a camera streaming to a consumer and a
producer-consumer. It prints its own and its children's pids (JSON) once frames flow, then
writes the number of frames it has received to PATH every 0.1 s, until killed.

    python -m tests.reliability.streamer PATH
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from rtcbot import SyntheticCamera

from .workers import Drain, Mirror


async def main(path: Path) -> None:
    camera = SyntheticCamera(320, 240, fps=100)
    drain, mirror = Drain(), Mirror()
    drain.putSubscription(camera)
    mirror.putSubscription(camera)
    echoes = mirror.subscribe()
    received = 0
    for _ in range(5):
        await echoes.get()
        received += 1
    print(json.dumps([os.getpid()] + [obj._process.pid for obj in (camera, drain, mirror)]), flush=True)
    while True:
        await echoes.get()
        received += 1
        if received % 10 == 0:
            path.write_text(str(received))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
