"""Under spawn and forkserver (Python 3.14's default) a child imports the program's main
module only when it needs it: RTCBot's guard-less scripts, which make their objects and run
their loop at module level, work; what is defined in a guarded script still reaches the child."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

GUARDLESS = """
import asyncio, multiprocessing, sys
multiprocessing.set_start_method(sys.argv[1], force=True)
from rtcbot import SyntheticCamera
print("module-level code ran", flush=True)
camera = SyntheticCamera(64, 48, fps=30)

@camera.subscribe
def onFrame(frame):
    print("frame", frame.shape, flush=True)
    camera.close()
    asyncio.get_event_loop().stop()

asyncio.get_event_loop().run_forever()
"""

CLASS_IN_THE_SCRIPT = """
import asyncio, multiprocessing, sys
from rtcbot.base import ProcessSubscriptionProducer

class Greeter(ProcessSubscriptionProducer):
    def _producer(self):
        self._setReady(True)
        self._put_nowait("hello from " + __name__)

async def main():
    greeter = Greeter()
    print(await asyncio.wait_for(greeter.get(), 20), flush=True)
    await asyncio.wait_for(greeter, 20)

if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1], force=True)
    asyncio.run(main())
"""

FUNCTION_IN_THE_SCRIPT = """
import asyncio, multiprocessing, sys
sys.path.insert(0, {repository!r})
from tests.base.processes import Caller

def answer():
    return "answered in " + __name__

async def main():
    caller = Caller(answer)
    print(await asyncio.wait_for(caller.get(), 20), flush=True)
    await asyncio.wait_for(caller, 20)

if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1], force=True)
    asyncio.run(main())
"""


def _run(tmp_path: Path, program: str, method: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(program))
    return subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-W",
            "ignore:There is no current event loop:DeprecationWarning",
            str(script),
            method,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


METHODS = pytest.mark.parametrize("method", ["forkserver", "spawn"])


@pytest.mark.timeout(90)
@METHODS
def test_a_guardless_script_runs_its_module_level_code_once_and_gets_frames(tmp_path: Path, method: str) -> None:
    result = _run(tmp_path, GUARDLESS, method)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["module-level code ran", "frame (48, 64, 3)"], result.stdout + result.stderr


@pytest.mark.timeout(90)
@METHODS
def test_a_class_defined_in_the_script_still_runs_in_the_child(tmp_path: Path, method: str) -> None:
    result = _run(tmp_path, CLASS_IN_THE_SCRIPT, method)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from __mp_main__", result.stdout + result.stderr


@pytest.mark.timeout(90)
@METHODS
def test_a_function_defined_in_the_script_reaches_the_child(tmp_path: Path, method: str) -> None:
    result = _run(tmp_path, FUNCTION_IN_THE_SCRIPT.format(repository=str(REPOSITORY)), method)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "answered in __mp_main__", result.stdout + result.stderr
