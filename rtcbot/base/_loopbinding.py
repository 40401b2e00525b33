"""Which event loop a thread-backed object talks to, and how other threads reach it.

Objects may be created before any loop runs (RTCBot users create devices at module level)
and used later inside ``asyncio.run(...)``. A :class:`LoopBinding` therefore binds lazily:
to the loop passed explicitly, else to the loop running (or set as current) at creation,
else to the first running loop that touches the object. Callbacks registered with
:meth:`whenBound` run once a loop is known.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def currentLoopIfAny() -> asyncio.AbstractEventLoop | None:
    """The running loop, else the loop set as current for this thread; never creates one."""
    loop = asyncio._get_running_loop()
    if loop is not None:
        return loop
    # asyncio.get_event_loop() would create (and on new Pythons warn about) a loop;
    # peek at the policy's current loop instead, as the legacy
    # ``loop = asyncio.get_event_loop(); ...; loop.run_forever()`` pattern sets one.
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
        return loop
    return None


class LoopGone(RuntimeError):
    """The bound event loop has closed, so nothing can be delivered to it any more."""


class LoopBinding:
    """The event loop an object belongs to, bound lazily, plus thread-safe calls into it."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._explicit = loop is not None
        self._loop = loop if loop is not None else currentLoopIfAny()
        self._owner = threading.get_ident()  # the thread that uses the loop while it is idle
        self._onBound: list[Callable[[], None]] = []

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def bind(self) -> None:
        """Binds to the running loop if none is bound yet (or the bound one never ran)."""
        running = asyncio._get_running_loop()
        if running is None or running is self._loop:
            return
        if self._loop is not None and (self._explicit or self._loop.is_running()):
            return
        self._loop = running
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
        return self._loop is not None and asyncio._get_running_loop() is self._loop

    def call(self, function: Callable[..., object], *args: object) -> None:
        """Runs ``function(*args)`` in the loop: now if already there (or if the loop is idle
        and this is the thread that owns it: nothing else can be running its callbacks),
        else posted in order.

        Raises :class:`LoopGone` if the bound loop has closed.
        """
        loop = self._loop
        if loop is None:
            raise LoopGone("no event loop is bound yet")
        running = asyncio._get_running_loop()
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
