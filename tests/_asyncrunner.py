"""Runs one async test in a fresh event loop in debug mode and fails it if the loop was
blocked (a callback ran longer than ``SLOW_CALLBACK``, not counting the garbage collector's
pauses, which stop every thread and are not the test's doing) or asyncio logged an error."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

#: A callback that holds the loop longer than this fails the test.
SLOW_CALLBACK = 0.05


class LoopBlocked(AssertionError):
    """A callback blocked the event loop."""


class AsyncioErrorLogged(AssertionError):
    """asyncio logged an error (e.g. 'Task exception was never retrieved')."""


class _Collector(logging.Handler):
    """Keeps asyncio's warnings, each with the monotonic time it was logged at."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[float, logging.LogRecord]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((time.monotonic(), record))


class _GcPauses:
    """Records when the garbage collector ran, while installed in ``gc.callbacks``."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
        else:
            self.spans.append((self._started, time.monotonic()))

    def within(self, start: float, end: float) -> float:
        """Seconds the collector ran between ``start`` and ``end``."""
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b in self.spans)


#: Test tooling whose own steps are not the code under test: Playwright's transport parses
#: and dispatches the browser's messages (a page's first ones) in the loop, 65 ms seen.
_TOOLING = ("playwright/_impl/transport.py",)


def _blockedFor(loggedAt: float, record: logging.LogRecord, pauses: _GcPauses) -> float:
    """How long a slow callback held the loop by its own doing (0 for other records, and
    for the test tooling's own steps)."""
    if not record.msg.startswith("Executing") or not isinstance(record.args, tuple):
        return 0.0
    if any(tool in str(record.args[0]) for tool in _TOOLING):
        return 0.0
    took = float(record.args[-1])
    return took - pauses.within(loggedAt - took, loggedAt)


def runAsyncTest(
    makeCoroutine: Callable[[], Coroutine[Any, Any, Any]],
    timeout: float,
    allowAsyncioErrors: bool = False,
) -> None:
    collector = _Collector()
    pauses = _GcPauses()
    asyncioLogger = logging.getLogger("asyncio")
    asyncioLogger.addHandler(collector)
    gc.callbacks.append(pauses)

    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK
        async with asyncio.timeout(timeout):
            await makeCoroutine()

    try:
        asyncio.run(main(), debug=True)
    finally:
        asyncioLogger.removeHandler(collector)
        gc.callbacks.remove(pauses)
    blocked = [
        r.getMessage() for at, r in collector.records if _blockedFor(at, r, pauses) > SLOW_CALLBACK
    ]
    if blocked:
        raise LoopBlocked("the event loop was blocked:\n" + "\n".join(blocked))
    errors = [r.getMessage() for _, r in collector.records if r.levelno >= logging.ERROR]
    if errors and not allowAsyncioErrors:
        raise AsyncioErrorLogged("asyncio logged errors:\n" + "\n".join(errors))
