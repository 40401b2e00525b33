"""The state of a device's source as the parent sees it: live, lost, ended; requested and
actual format. A capture child reports changes with ``_notify``; the parent keeps the latest
and calls ``onSourceChange`` listeners."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar, overload

from ..base._errors import ProducerClosed
from ..base._listeners import ListenerRegistry
from ..base._processobject import ProcessObject
from ._frames import describeRate

L = TypeVar("L")


class SourceState(enum.Enum):
    """Where a capture source stands."""

    OPENING = "opening"
    """Not delivering yet: the child is starting or opening the source."""
    LIVE = "live"
    """Delivering frames."""
    LOST = "lost"
    """It stopped delivering; the child retries with back-off until it comes back."""
    ENDED = "ended"
    """A file reached its end (the object then closes)."""


@dataclass(frozen=True)
class VideoFormat:
    """A frame size and rate. ``fps`` is 0 when unknown (or as fast as possible)."""

    width: int
    height: int
    fps: float


@dataclass(frozen=True)
class SourceStatus:
    """A snapshot of a capture source."""

    state: SourceState
    requested: VideoFormat
    """What the constructor asked for."""
    actual: VideoFormat | None
    """What the source delivers (None until it has been opened)."""
    message: str = ""
    """Why the source was lost (or how it ended); empty while live."""
    timesLost: int = 0
    """How often the source was lost since the start."""
    copiedFrames: int = 0
    """Frames the capture library would not decode straight into shared memory (so they
    were copied once); 0 when every capture landed in its slot."""


class SourceWatch(ProcessObject):
    """Parent-side: keeps the latest :class:`SourceStatus` and tells listeners about changes."""

    _parentOnly: ClassVar[frozenset[str]] = frozenset({"_sourceStatus", "_sourceListeners", "_sourceWaiters"})

    def _initSourceWatch(self, requested: VideoFormat) -> None:
        self._sourceStatus = SourceStatus(SourceState.OPENING, requested, None)
        self._sourceListeners = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, True)
        self._sourceWaiters: list[asyncio.Future[SourceStatus]] = []

    @property
    def sourceStatus(self) -> SourceStatus:
        """The latest status of the source (state, requested and actual format, losses)."""
        return self._sourceStatus

    @overload
    def onSourceChange(self, listener: None = None) -> asyncio.Future[SourceStatus]: ...
    @overload
    def onSourceChange(self, listener: L) -> L: ...
    def onSourceChange(self, listener: object = None) -> object:
        """Without argument: a future resolving to the next :class:`SourceStatus` (await it;
        it raises ``ProducerClosed`` if the object closes first).
        With a callback, coroutine function or sink: registers it for every change (it gets
        the new status) and returns it, so it works as a decorator. Undo with
        ``unsubscribeSourceChange``."""
        self._bindLoop()
        if listener is None:
            waiter: asyncio.Future[SourceStatus] = asyncio.get_running_loop().create_future()
            if self.closed:
                waiter.set_exception(self._closedForSourceChanges())
            else:
                self._sourceWaiters.append(waiter)
            return waiter
        self._sourceListeners.add(listener, "onSourceChange()")
        return listener

    def unsubscribeSourceChange(self, listener: object) -> None:
        """Removes a listener given to ``onSourceChange``; KeyError if it is not registered."""
        if not self._sourceListeners.remove(listener):
            raise KeyError(f"{listener!r} is not an onSourceChange listener of this {type(self).__name__}")

    def _closeSides(self) -> None:
        waiters, self._sourceWaiters = self._sourceWaiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(self._closedForSourceChanges())
        super()._closeSides()

    def _closedForSourceChanges(self) -> ProducerClosed:
        return ProducerClosed(f"{type(self).__name__} closed: its source will not change again")

    def _reprDetails(self) -> list[str]:
        """Adds the frame rate: the source's own once known, else the one asked for."""
        actual = self._sourceStatus.actual
        fps = actual.fps if actual is not None and actual.fps > 0 else self._sourceStatus.requested.fps
        return [*super()._reprDetails(), describeRate(fps)]

    def _onChildNotice(self, notice: Any) -> None:
        if not isinstance(notice, SourceStatus):
            super()._onChildNotice(notice)
            return
        self._sourceStatus = replace(notice, requested=self._sourceStatus.requested)
        waiters, self._sourceWaiters = self._sourceWaiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(self._sourceStatus)
        self._sourceListeners.deliver(self._sourceStatus)
