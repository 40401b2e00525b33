"""Objects made at module level, before any event loop exists, deliver under every way
RTCBot's programs run a loop (issue 20, part 1): ``get_event_loop().run_forever()``,
``run_until_complete()``, aiohttp's ``web.run_app(app)`` (a new loop of its own) and
``asyncio.run(main())`` where ``main`` only waits. Nothing touches the objects once the
loop runs: they must find it by themselves. Each program runs in a process of its own,
with warnings as errors except the DeprecationWarning of the program's own
``asyncio.get_event_loop()`` call (Python 3.12 and 3.13 raise it when that call makes the
loop)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: Makes ``source`` at module level and calls ``delivered()`` for each item it gives.
SOURCES = {
    "process producer": """
        from rtcbot import SyntheticCamera
        source = SyntheticCamera(64, 48, fps=60)
        source.subscribe(lambda frame: delivered())
    """,
    "threaded producer": """
        import time
        from rtcbot import ThreadedSubscriptionProducer
        class Ticks(ThreadedSubscriptionProducer):
            def _producer(self):
                self._setReady(True)
                while not self._shouldClose:
                    time.sleep(0.01)
                    self._put_nowait(1)
        source = Ticks()
        source.subscribe(lambda item: delivered())
    """,
    "process consumer fed by a camera": """
        from rtcbot import ProcessSubscriptionProducerConsumer, SyntheticCamera
        class Sequence(ProcessSubscriptionProducerConsumer):
            def _producerConsumer(self):
                self._setReady(True)
                while True:
                    self._put_nowait(int(self._get().sequence))
        camera = SyntheticCamera(64, 48, fps=60)
        source = Sequence()
        source.putSubscription(camera)
        alsoClose = [camera]
        source.subscribe(lambda number: delivered())
    """,
    "late ready listener": """
        from rtcbot import SubscriptionProducer
        source = SubscriptionProducer()
        WANTED = 1
        source.onReady(lambda: delivered())
    """,
}

#: Runs a loop that never touches ``source``; ``finish()`` (called from the loop once
#: enough was delivered) makes the program end.
LOOPS = {
    "get_event_loop().run_forever()": """
        def finish():
            asyncio.get_running_loop().stop()
        asyncio.get_event_loop().run_forever()
    """,
    "get_event_loop().run_until_complete()": """
        finished = None
        def finish():
            finished.set_result(None)
        async def waitForIt():
            global finished
            finished = asyncio.get_running_loop().create_future()
            await finished
        asyncio.get_event_loop().run_until_complete(waitForIt())
    """,
    "web.run_app(app)": """
        from aiohttp import web
        def finish():
            raise web.GracefulExit()
        def finishSoon():
            asyncio.get_running_loop().call_soon(finish)
        app = web.Application()
        web.run_app(app, host="127.0.0.1", port=0, print=None, handle_signals=False)
    """,
    "asyncio.run(main())": """
        def finish():
            for task in asyncio.all_tasks():
                task.cancel()
        async def main():
            await asyncio.Event().wait()
        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
    """,
}

PROGRAM = """
import asyncio, sys
WANTED = 10
count = 0
def delivered():
    global count
    count += 1
    if count == WANTED:
        (finishSoon if "finishSoon" in globals() else finish)()
{source}
{loop}
print("delivered", count)
for other in [source, *globals().get("alsoClose", [])]:
    other.close()
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loopKind", sorted(LOOPS))
@pytest.mark.parametrize("sourceKind", sorted(SOURCES))
def test_objects_made_before_the_loop_deliver(sourceKind: str, loopKind: str) -> None:
    program = PROGRAM.format(source=textwrap.dedent(SOURCES[sourceKind]), loop=textwrap.dedent(LOOPS[loopKind]))
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "dev",
            "-W",
            "error",
            "-W",
            "ignore:There is no current event loop:DeprecationWarning",
            "-c",
            program,
        ],
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    wanted = 1 if sourceKind == "late ready listener" else 10
    assert result.stdout.split() == ["delivered", str(wanted)], result.stdout


@pytest.mark.timeout(60)
def test_frames_that_no_loop_reads_are_reported_once_with_what_to_do() -> None:
    """A program that makes a camera and never runs a loop hears why nothing arrives, once;
    the child does not warn about subscribers holding its slots (nobody holds them)."""
    program = textwrap.dedent("""
        import time
        from rtcbot import SyntheticCamera
        from rtcbot.base._child import NO_LOOP_WARNING_AFTER
        camera = SyntheticCamera(64, 48, fps=100)
        time.sleep(NO_LOOP_WARNING_AFTER + 1.5)
        camera.close()
    """)
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", program], capture_output=True, text=True, timeout=45
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("no event loop of the parent process reads them yet") == 1, result.stderr
    assert "pass loop=" in result.stderr and "still uses" not in result.stderr, result.stderr
