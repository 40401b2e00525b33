"""Runs one async test in a fresh event loop in debug mode and fails it if the loop was
blocked (a callback ran longer than ``SLOW_CALLBACK``) or asyncio logged an error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

#: A callback that holds the loop longer than this fails the test.
SLOW_CALLBACK = 0.05


class LoopBlocked(AssertionError):
    """A callback blocked the event loop."""


class AsyncioErrorLogged(AssertionError):
    """asyncio logged an error (e.g. 'Task exception was never retrieved')."""


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def runAsyncTest(
    makeCoroutine: Callable[[], Coroutine[Any, Any, Any]],
    timeout: float,
    allowAsyncioErrors: bool = False,
) -> None:
    collector = _Collector()
    asyncioLogger = logging.getLogger("asyncio")
    asyncioLogger.addHandler(collector)

    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK
        async with asyncio.timeout(timeout):
            await makeCoroutine()

    try:
        asyncio.run(main(), debug=True)
    finally:
        asyncioLogger.removeHandler(collector)
    blocked = [r.getMessage() for r in collector.records if r.getMessage().startswith("Executing")]
    if blocked:
        raise LoopBlocked("the event loop was blocked:\n" + "\n".join(blocked))
    errors = [r.getMessage() for r in collector.records if r.levelno >= logging.ERROR]
    if errors and not allowAsyncioErrors:
        raise AsyncioErrorLogged("asyncio logged errors:\n" + "\n".join(errors))
