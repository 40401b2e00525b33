"""The harness itself must catch what it promises to catch."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ._asyncrunner import SLOW_CALLBACK, AsyncioErrorLogged, LoopBlocked, runAsyncTest
from ._ticker import LoopTicker


def test_a_blocking_call_in_the_loop_fails_the_test() -> None:
    async def blocks() -> None:
        time.sleep(0.2)

    with pytest.raises(LoopBlocked, match="blocked"):
        runAsyncTest(blocks, timeout=5)


def test_a_garbage_collector_pause_is_not_counted_as_blocking() -> None:
    hoard = [[] for _ in range(2_000_000)]  # many tracked containers make a full collection slow
    took: list[float] = []

    async def collects() -> None:
        start = time.monotonic()
        gc.collect()
        took.append(time.monotonic() - start)

    runAsyncTest(collects, timeout=5)
    del hoard
    assert took[0] > SLOW_CALLBACK, "the collection was too quick to prove anything"


@pytest.fixture
def crowdedCore() -> Iterator[None]:
    """This thread and three busy processes share one core: the thread waits for it."""
    core = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    spin = f"import os; os.sched_setaffinity(0, {{{core}}}); print(flush=True)\nwhile True: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE) for _ in range(3)]
    for process in busy:
        assert process.stdout is not None
        process.stdout.readline()  # spinning on the core from now on
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
        for process in busy:
            process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()


def test_time_spent_waiting_for_a_busy_core_is_not_counted_as_blocking(crowdedCore: None) -> None:
    took: list[float] = []

    async def computesBriefly() -> None:
        start, cpuStart = time.monotonic(), time.thread_time()
        while time.thread_time() - cpuStart < SLOW_CALLBACK / 2:
            pass
        took.append(time.monotonic() - start)

    runAsyncTest(computesBriefly, timeout=5)
    assert took[0] > 1.5 * SLOW_CALLBACK, "the core was not crowded enough to prove anything"


def test_a_quick_test_passes() -> None:
    async def quick() -> None:
        await asyncio.sleep(0)

    runAsyncTest(quick, timeout=5)


def test_a_hanging_test_times_out() -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        runAsyncTest(hangs, timeout=0.1)


def test_asyncio_errors_fail_the_test() -> None:
    async def logsError() -> None:
        logging.getLogger("asyncio").error("Task exception was never retrieved")

    with pytest.raises(AsyncioErrorLogged):
        runAsyncTest(logsError, timeout=5)


def test_the_ticker_sees_a_stalled_loop() -> None:
    async def stall() -> float:
        async with LoopTicker() as ticker:
            time.sleep(0.1)
        return ticker.maxGap

    assert asyncio.run(stall()) >= 0.1
