"""A 10 ms ticker that records the longest gap the event loop left between its ticks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType


class LoopTicker:
    """``async with LoopTicker() as ticker:`` ticks every 10 ms inside the block; afterwards
    ``ticker.maxGap`` is the longest time between two ticks, in seconds."""

    def __init__(self, period: float = 0.01) -> None:
        self._period = period
        self._task: asyncio.Task[None] | None = None
        self._last = time.monotonic()
        self.maxGap = 0.0

    def _tock(self) -> None:
        now = time.monotonic()
        self.maxGap = max(self.maxGap, now - self._last)
        self._last = now

    async def _tick(self) -> None:
        self._last = time.monotonic()
        while True:
            await asyncio.sleep(self._period)
            self._tock()

    async def __aenter__(self) -> LoopTicker:
        self._task = asyncio.ensure_future(self._tick())
        await asyncio.sleep(3 * self._period)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._tock()  # a stall at the very end of the block counts too
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
