"""With no start method asked for, a process object uses multiprocessing's default context,
whatever threads run: what works under that default (a default-context queue, and under
fork a local class or a lambda) reaches the child. Forking with other threads running is
said once. A spawned or forkserver child starts without holding up the running loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rtcbot.base import ProcessSubscriptionProducer, SubscriptionClosed, _forksafety

from .processes import Counter, Forward

DEFAULT = multiprocessing.get_start_method()
forkOnly = pytest.mark.skipif(DEFAULT != "fork", reason="multiprocessing's default here is not fork")


@pytest.fixture
def sleepingThread() -> Iterator[threading.Thread]:
    """Another Python thread, running for the whole test (it merely waits)."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="a sleeping helper thread")
    thread.start()
    yield thread
    release.set()
    thread.join()


async def test_a_queue_of_the_default_context_reaches_the_child_while_another_thread_runs(
    sleepingThread: threading.Thread,
) -> None:
    results: Any = multiprocessing.Queue()
    forward = Forward(results)
    try:
        assert forward._context.get_start_method() == DEFAULT
        await asyncio.wait_for(forward.onReady(), 10)
        forward.put_nowait("through the child")
        assert await asyncio.to_thread(results.get, True, 10) == "through the child"
    finally:
        forward.close()
        await asyncio.wait_for(forward, 10)
        results.close()
        results.join_thread()


@forkOnly
async def test_under_fork_a_local_class_and_a_lambda_reach_the_child(sleepingThread: threading.Thread) -> None:
    class Local(ProcessSubscriptionProducer):
        def __init__(self) -> None:
            self.make = lambda: "made by a lambda"
            super().__init__()

        def _producer(self) -> None:
            self._setReady(True)
            self._put_nowait(self.make())
            self._sleep(60)

    local = Local()
    try:
        assert await asyncio.wait_for(local.get(), 10) == "made by a lambda"
    finally:
        local.close()
        await asyncio.wait_for(local, 10)


@forkOnly
def test_forking_while_other_threads_run_is_said_once_naming_them(
    sleepingThread: threading.Thread, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_forksafety, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="rtcbot"):
        counters = [Counter(1), Counter(1)]
        for counter in counters:
            counter.close()
    said = [r.getMessage() for r in caplog.records if "other thread(s) run" in r.getMessage()]
    assert len(said) == 1, said
    assert "a sleeping helper thread" in said[0] and "startMethod='forkserver'" in said[0]


def test_forking_without_other_threads_says_nothing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert threading.active_count() == 1
    monkeypatch.setattr(_forksafety, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="rtcbot"):
        Counter(1, startMethod="fork").close()
    assert [r for r in caplog.records if "other thread(s) run" in r.getMessage()] == []


def test_a_start_method_asked_for_is_kept_whatever_the_threads(sleepingThread: threading.Thread) -> None:
    for method in ("fork", "forkserver", "spawn"):
        counter = Counter(3, startMethod=method)
        try:
            assert counter._context.get_start_method() == method
        finally:
            counter.close()


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
async def test_in_a_running_loop_an_unpicklable_attribute_is_still_an_error_of_the_constructor(method: str) -> None:
    with pytest.raises(TypeError, match=r"Forward\.results \(function\) cannot be sent"):
        Forward(lambda: None, startMethod=method)


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
async def test_an_object_closed_while_its_child_starts_ends_cleanly(method: str) -> None:
    counter = Counter(1000, startMethod=method)
    counter.close()
    await asyncio.wait_for(counter, 20)
    with pytest.raises(SubscriptionClosed):
        await counter.get()


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
async def test_a_child_started_in_the_background_delivers_in_order(method: str) -> None:
    counter = Counter(5, startMethod=method)
    try:
        assert [await asyncio.wait_for(counter.get(), 20) for _ in range(5)] == [0, 1, 2, 3, 4]
    finally:
        counter.close()
        await asyncio.wait_for(counter, 20)


CONSTRUCT_IN_A_LOOP = """
import asyncio, sys, time
from rtcbot import SyntheticCamera

async def main():
    loop = asyncio.get_running_loop()
    loop.slow_callback_duration = {limit}
    started = time.perf_counter()
    camera = SyntheticCamera(64, 48, fps=30, startMethod=sys.argv[1])
    print("constructed in %.1f ms" % ((time.perf_counter() - started) * 1000))
    await asyncio.wait_for(camera.onReady(), 20)
    print("ready after %.1f ms" % ((time.perf_counter() - started) * 1000))
    await asyncio.wait_for(camera.get(), 20)
    camera.close()
    await camera

if __name__ == "__main__":
    asyncio.run(main(), debug=True)
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_the_first_child_of_a_fresh_program_does_not_block_its_loop(method: str, tmp_path: Any) -> None:
    """In a fresh interpreter (so the forkserver is not running yet, as in a user's program)
    no callback holds the loop over 25 ms while the first camera starts (the first forkserver
    child held it 55 ms when the loop waited for the forkserver)."""
    program = tmp_path / "construct.py"
    program.write_text(textwrap.dedent(CONSTRUCT_IN_A_LOOP.format(limit=0.025)))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-W", "error", str(program), method], capture_output=True, text=True, timeout=80
    )
    assert result.returncode == 0, result.stderr
    assert "Executing" not in result.stderr, result.stderr  # asyncio's slow-callback report
    assert "ready after" in result.stdout, (result.stdout, time.monotonic() - started)
