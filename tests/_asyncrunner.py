"""Runs one async test in a fresh event loop in debug mode and fails it if the loop was
blocked (a callback ran longer than ``SLOW_CALLBACK``, not counting the garbage collector's
pauses, which stop every thread, nor the time the loop's thread was ready but waited for a
core, which is the machine's load; neither is the test's doing) or asyncio logged an error."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
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
    """Keeps asyncio's warnings, each with the monotonic time it was logged at and the run
    queue wait of the loop's callback that had just run."""

    def __init__(self, waits: _RunQueueWaits) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[float, logging.LogRecord, float]] = []
        self._waits = waits

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((time.monotonic(), record, self._waits.lastWait))


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
#: and dispatches the browser's messages (a page's first ones) in the loop, 65 ms seen, and
#: its connection builds the objects of the driver's first message in one step.
_TOOLING = ("playwright/_impl/transport.py", "playwright/_impl/connection.py")


class _RunQueueWaits:
    """While installed, notes for each callback the loop's thread runs how long that thread
    waited in the kernel's run queue (ready, but every core busy) during it.

    asyncio logs a slow callback right after running it, from the same thread, so the
    collector reads ``lastWait`` for the callback the record is about. The kernel's count is
    the second field of ``/proc/thread-self/schedstat`` (nanoseconds)."""

    def __init__(self) -> None:
        self.lastWait = 0.0
        self._thread = threading.get_ident()
        self._pid = os.getpid()
        self._schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        self._run = asyncio.events.Handle._run

    def _waited(self) -> int:
        return int(os.pread(self._schedstat, 64, 0).split()[1])

    def install(self) -> None:
        original = self._run

        def run(handle: asyncio.Handle) -> None:
            if threading.get_ident() != self._thread or os.getpid() != self._pid:
                return original(handle)
            before = self._waited()
            try:
                return original(handle)
            finally:
                self.lastWait = (self._waited() - before) / 1e9

        asyncio.events.Handle._run = run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]
        os.close(self._schedstat)


def _blockedFor(loggedAt: float, record: logging.LogRecord, pauses: _GcPauses, waited: float) -> float:
    """How long a slow callback held the loop by its own doing (0 for other records, and
    for the test tooling's own steps); ``waited`` is its thread's time in the run queue."""
    if not record.msg.startswith("Executing") or not isinstance(record.args, tuple):
        return 0.0
    if any(tool in str(record.args[0]) for tool in _TOOLING):
        return 0.0
    took = float(record.args[-1])
    return took - waited - pauses.within(loggedAt - took, loggedAt)


def runAsyncTest(
    makeCoroutine: Callable[[], Coroutine[Any, Any, Any]],
    timeout: float,
    allowAsyncioErrors: bool = False,
) -> None:
    waits = _RunQueueWaits()
    collector = _Collector(waits)
    pauses = _GcPauses()
    asyncioLogger = logging.getLogger("asyncio")
    asyncioLogger.addHandler(collector)
    gc.callbacks.append(pauses)
    waits.install()

    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = SLOW_CALLBACK
        async with asyncio.timeout(timeout):
            await makeCoroutine()

    try:
        asyncio.run(main(), debug=True)
    finally:
        waits.uninstall()
        asyncioLogger.removeHandler(collector)
        gc.callbacks.remove(pauses)
    blocked = [
        r.getMessage() for at, r, waited in collector.records if _blockedFor(at, r, pauses, waited) > SLOW_CALLBACK
    ]
    if blocked:
        raise LoopBlocked("the event loop was blocked:\n" + "\n".join(blocked))
    errors = [r.getMessage() for _, r, _ in collector.records if r.levelno >= logging.ERROR]
    if errors and not allowAsyncioErrors:
        raise AsyncioErrorLogged("asyncio logged errors:\n" + "\n".join(errors))
