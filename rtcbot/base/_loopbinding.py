"""Which event loop a thread-backed object talks to, and how other threads reach it.

Objects may be created before any loop runs (RTCBot users create devices at module level)
and used later inside ``asyncio.run(...)``. A :class:`LoopBinding` therefore binds lazily:
to the loop passed explicitly, else to the loop running at creation, else to the first loop
that starts to run in the creating thread (``run_forever()``, ``asyncio.run()``, aiohttp's
``web.run_app()``: see :mod:`._loopstart`), or to the first running loop that touches the
object, whichever comes first. Callbacks registered with :meth:`whenBound` run once a loop
is known.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._loopstart import whenALoopStarts

T = TypeVar("T")


def runningLoop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None (``asyncio.get_running_loop()``
    without the exception)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopGone(RuntimeError):
    """The bound event loop has closed, so nothing can be delivered to it any more."""


class LoopBinding:
    """The event loop an object belongs to, bound lazily, plus thread-safe calls into it."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._explicit = loop is not None
        self._loop = loop if loop is not None else runningLoop()
        self._owner = threading.get_ident()  # the thread that uses the loop while it is idle
        self._onBound: list[Callable[[], None]] = []
        if self._loop is None:
            whenALoopStarts(self)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def bind(self) -> None:
        """Binds to the running loop if none is bound yet (or the bound one never ran)."""
        running = runningLoop()
        if running is None or running is self._loop:
            return
        if self._loop is not None and (self._explicit or self._loop.is_running()):
            return
        self._bindTo(running)

    def _loopStarted(self, loop: asyncio.AbstractEventLoop) -> None:
        """The first loop to start in the creating thread: bound to unless one is already."""
        if self._loop is None:
            self._bindTo(loop)

    def _bindTo(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._owner = threading.get_ident()
        callbacks, self._onBound = self._onBound, []
        for callback in callbacks:
            callback()

    def whenBound(self, callback: Callable[[], None]) -> None:
        """Runs ``callback`` now if a loop is bound, else as soon as one is."""
        if self._loop is not None:
            callback()
        else:
            self._onBound.append(callback)

    def inLoopThread(self) -> bool:
        """True when called from inside the bound loop while it runs."""
        return self._loop is not None and runningLoop() is self._loop

    def call(self, function: Callable[..., object], *args: object) -> None:
        """Runs ``function(*args)`` in the loop: now if already there (or if the loop is idle
        and this is the thread that owns it: nothing else can be running its callbacks),
        else posted in order.

        Raises :class:`LoopGone` if the bound loop has closed.
        """
        loop = self._loop
        if loop is None:
            raise LoopGone("no event loop is bound yet")
        if loop.is_closed():
            raise LoopGone("the event loop is closed")
        running = runningLoop()
        if running is loop or (running is None and not loop.is_running() and threading.get_ident() == self._owner):
            function(*args)
            return
        try:
            loop.call_soon_threadsafe(function, *args)
        except RuntimeError as exc:  # "Event loop is closed"
            raise LoopGone(str(exc)) from None

    def submit(self, coroutine: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Runs a coroutine in the loop from another thread; returns its future."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise LoopGone("the event loop is gone")
        pending = coroutine()
        try:
            return asyncio.run_coroutine_threadsafe(pending, loop)
        except RuntimeError as exc:  # the loop closed in between
            pending.close()
            raise LoopGone(str(exc)) from None
