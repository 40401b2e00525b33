"""The harness itself must catch what it promises to catch."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

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
