"""A dead-man switch for commands: what a robot's motors should get when the commands stop."""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from typing import Any

from .base import ConsumerClosed, SubscriptionProducerConsumer
from .base.base import ProducerConsumerStatistics, bothSidesCounters
from .base.events import baseEventHandler

__all__ = ["Watchdog", "WatchdogStatistics"]

_log = logging.getLogger("rtcbot.Watchdog")


@dataclass(frozen=True)
class WatchdogStatistics(ProducerConsumerStatistics):
    """A watchdog's counters."""

    commands: int
    """Commands passed on."""
    timeouts: int
    """Times no command came within ``timeout``: the safe value was put."""
    linkLosses: int
    """Times the link closed or failed: the safe value was put."""


class Watchdog(SubscriptionProducerConsumer[Any, Any]):
    """Passes each command it gets (``put_nowait``, or ``putSubscription(connection)``) on to
    its subscribers, and puts ``safeValue`` instead (once, until the next command) when no
    command came for ``timeout`` seconds, and when ``link`` (an ``RTCConnection``, or any
    rtcbot object) closes or fails::

        watchdog = Watchdog({"left": 0, "right": 0}, timeout=0.3, link=conn)
        watchdog.putSubscription(conn)       # the browser's commands
        motors.putSubscription(watchdog)     # zero speeds 0.3 s after the last one

    The clock starts when the first command arrives: nothing is put before (not for a link
    lost before any command either); ``timeout=None``
    watches only the link (for commands that come only when they change, as key presses).
    After the link is lost it stays safe: commands that still come are not passed on.
    """

    def __init__(self, safeValue: Any, timeout: float | None = 0.5, link: baseEventHandler | None = None) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive (seconds) or None, got {timeout!r}")
        if link is not None and not isinstance(link, baseEventHandler):
            raise TypeError(f"link must be an rtcbot object (e.g. an RTCConnection), got {link!r}")
        super().__init__(asyncio.Queue, asyncio.Queue, logger=_log)
        self.safeValue = safeValue
        self.timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self._linkLost = False
        self._commands = self._timeouts = self._linkLosses = 0
        self._runner: asyncio.Task[None] | None = None
        if link is not None:
            link.onClose(self._lostLink)
        self._callSoon(self._begin)

    def statistics(self) -> WatchdogStatistics:
        """A snapshot of the counters."""
        return WatchdogStatistics(
            **bothSidesCounters(self), commands=self._commands, timeouts=self._timeouts, linkLosses=self._linkLosses
        )

    def _begin(self) -> None:
        if not self.closed and self._runner is None:
            self._runner = asyncio.ensure_future(self._passCommands())
            self._runner.add_done_callback(lambda _: self._notifyState())

    async def _passCommands(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                command = await self._get()
            except ConsumerClosed:
                return
            if self._linkLost:
                continue
            self._commands += 1
            self._put_nowait(command)
            if self._timer is not None:
                self._timer.cancel()
            if self.timeout is not None:
                self._timer = loop.call_later(self.timeout, self._timedOut)

    def _timedOut(self) -> None:
        self._timer = None
        self._timeouts += 1
        self._log.warning("no command for %g s: putting the safe value", self.timeout)
        self._putSafe()

    def _lostLink(self) -> None:
        if self._linkLost or self.closed:
            return
        self._linkLost = True
        self._linkLosses += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._commands:  # a link that never drove anything has nothing to stop
            self._log.warning("the link is lost: putting the safe value")
            self._putSafe()

    def _putSafe(self) -> None:
        self._put_nowait(copy.deepcopy(self.safeValue))  # a subscriber may change what it gets

    def close(self) -> None:
        """Stops watching (no safe value is put for the close itself)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().close()

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and (self._runner is None or self._runner.done())
