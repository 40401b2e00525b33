"""When the parent process dies, even by SIGKILL, its children follow and nothing is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..orphans import adoptingOrphans, exitsWithin

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from tests.base.processes import Echo, FramePump, Stubborn

async def main():
    pump = FramePump((480, 640, 3))
    echo = Echo(defaultAutosubscribe=True)
    stubborn = Stubborn()  # stuck in its own code: never looks at the parent
    echo.putSubscription(pump)
    for _ in range(10):  # streaming both ways
        await echo.get()
    await stubborn.onReady()
    print(json.dumps([pump._process.pid, echo._process.pid, stubborn._process.pid]), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_children_exit_within_a_second_of_their_parent_being_killed() -> None:
    shmBefore = set(os.listdir("/dev/shm"))
    children: list[int] = []
    with adoptingOrphans(children):
        parent = subprocess.Popen(
            [sys.executable, "-c", PROGRAM, str(ROOT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert parent.stdout is not None
            line = parent.stdout.readline()
            assert line, parent.stderr.read() if parent.stderr else ""
            children.extend(json.loads(line))
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            assert all(exitsWithin(pid, 1.0) for pid in children)
            assert set(os.listdir("/dev/shm")) == shmBefore, "nothing named was left in /dev/shm"
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait(10)
            for stream in (parent.stdout, parent.stderr):
                if stream is not None:
                    stream.close()
