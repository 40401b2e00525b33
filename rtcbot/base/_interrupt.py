"""Waking our own pending awaits without swallowing a caller's cancellation.

A consumer must abandon a read when its source is switched or it is closed, yet a caller
who cancels ``get()`` (``asyncio.wait_for``, ``task.cancel()``) must see the cancellation.
Both arrive as ``CancelledError``; :class:`Interrupter` tells them apart by recording which
cancellations it requested and undoing exactly those with ``Task.uncancel()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Final, TypeVar

from ._loopbinding import runningLoop

T = TypeVar("T")


class _Interrupted:
    """Marker returned by :meth:`Interrupter.run` when the await was interrupted."""

    def __repr__(self) -> str:
        return "INTERRUPTED"


INTERRUPTED: Final = _Interrupted()


class Interrupter:
    """Tracks the tasks awaiting through :meth:`run` and can interrupt all of them."""

    def __init__(self) -> None:
        self._waiting: dict[asyncio.Task[object], bool] = {}

    async def run(self, awaitable: Awaitable[T]) -> T | _Interrupted:
        """Awaits ``awaitable``; returns ``INTERRUPTED`` if :meth:`interrupt` ended it.

        A cancellation that did not come from :meth:`interrupt` propagates unchanged.
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Interrupter.run() must be awaited inside an asyncio task")
        self._waiting[task] = False
        try:
            result = await awaitable
        except asyncio.CancelledError:
            if self._waiting.get(task) and task.uncancel() == 0:
                return INTERRUPTED
            raise
        finally:
            interruptedButCompleted = self._waiting.pop(task, False)
        if interruptedButCompleted:
            # The awaitable finished despite our cancel request: keep its result.
            task.uncancel()
        return result

    def interrupt(self) -> None:
        """Interrupts every await currently running through :meth:`run`."""
        current = asyncio.current_task() if runningLoop() else None
        for task, alreadyInterrupted in self._waiting.items():
            if not alreadyInterrupted and task is not current:
                self._waiting[task] = True
                task.cancel()

    def __len__(self) -> int:
        return len(self._waiting)
