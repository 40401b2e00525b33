"""Lifecycle events shared by every producer and consumer: ready, error and close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

from .._ratelimit import RateLimitedLog
from ._errors import ClosedBeforeReady
from ._listeners import ListenerRegistry, TaskKeeper
from ._loopbinding import LoopBinding, LoopGone, runningLoop
from ._loopstart import whenALoopStarts

T = TypeVar("T")
L = TypeVar("L")

__all__ = ["baseEventHandler", "threadedEventHandler"]

#: Longest error text ``repr()`` of an object shows.
REPR_ERROR_LENGTH = 60


class StateAwaitable(Generic[T]):
    """What ``onReady()``, ``onError()`` and ``onClose()`` return when given no argument.

    Await it directly, or call ``await it.get()``; each await waits afresh on the
    object's current state.
    """

    def __init__(self, wait: Callable[[], Awaitable[T]]) -> None:
        self._wait = wait

    async def get(self) -> T:
        """Waits for the state and returns its value (the same as awaiting this object)."""
        return await self._wait()

    def __await__(self) -> Generator[Any, None, T]:
        return self.get().__await__()


class baseEventHandler:
    """The ready / error / close state of an object and the listeners of each event.

    Listeners are called in registration order. A listener may be a callback, a
    coroutine function, or an object with ``put_nowait``. Ready and close listeners get
    no argument (sinks get ``None``); error listeners get the exception.

    ``async with obj:`` closes the object when the block ends and waits for its teardown.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = (logger if logger is not None else logging.getLogger("rtcbot")).getChild(type(self).__name__)
        self._rateLimitedLog = RateLimitedLog(self._log)
        self._listenerTasks = TaskKeeper(self._rateLimitedLog)
        self.__readyListeners = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, False)
        self.__errorListeners = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, True)
        self.__closeListeners = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, False)
        self.__ready = False
        self.__timesReady = 0
        self.__closed = False
        self.__error: BaseException | None = None
        self.__stateWaiters: list[asyncio.Future[None]] = []
        self.__deferredCalls: list[Callable[[], None]] = []

    # -- state ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once the object is initialised and processing data; False after close."""
        return self.__ready

    @property
    def closed(self) -> bool:
        """True once the object has closed, cleanly or because of an error."""
        return self.__closed

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the object, or None."""
        return self.__error

    # -- subclass-facing --------------------------------------------------------------------

    def _setReady(self, value: bool = True) -> None:
        """Marks the object ready (firing onReady listeners) or no longer ready.

        Only the change to ready fires listeners; an object that has closed stays not ready.
        """
        if not value:
            self.__ready = False
            return
        if self.__ready or self.__closed:
            return
        self.__ready = True
        self.__timesReady += 1
        self.__readyListeners.deliver(None)
        self._notifyState()

    def _setError(self, value: BaseException | None) -> None:
        """Records the exception that stopped the object, fires onError, then closes it.

        ``None`` is ignored.
        """
        if value is None:
            return
        if not isinstance(value, BaseException):
            raise TypeError(
                f"_setError() needs an exception instance, got {value!r}; "
                "wrap the problem in an exception, e.g. RuntimeError('camera read failed')"
            )
        self.__error = value
        self.__errorListeners.deliver(value)
        self._notifyState()
        self.close()

    def close(self) -> None:
        """Closes the object: ready becomes False, closed True, onClose listeners fire once."""
        if self.__closed:
            return
        self.__closed = True
        self.__ready = False
        self.__closeListeners.deliver(None)
        self._notifyState()

    def _bindLoop(self) -> None:
        """Called by public methods so the object finds its loop: here, calls ``_callSoon``
        deferred because no loop existed yet go to the running loop."""
        if not self.__deferredCalls:
            return
        loop = runningLoop()
        if loop is not None:
            calls, self.__deferredCalls = self.__deferredCalls, []
            for call in calls:
                loop.call_soon(call)

    def _callSoon(self, callback: Callable[[], None]) -> None:
        """Runs ``callback`` on a later turn of the object's loop: the running loop;
        without one, the first loop that starts in this thread or in which the object is
        used, whichever comes first."""
        loop = runningLoop()
        if loop is None:
            if not self.__deferredCalls:
                whenALoopStarts(self)
            self.__deferredCalls.append(callback)
        else:
            loop.call_soon(callback)

    def _loopStarted(self, loop: asyncio.AbstractEventLoop) -> None:
        """Runs the calls deferred until a loop existed (see :mod:`._loopstart`)."""
        calls, self.__deferredCalls = self.__deferredCalls, []
        for call in calls:
            call()

    def _isTornDown(self) -> bool:
        """True once closed and every background worker has finished."""
        return self.__closed

    def _notifyState(self) -> None:
        """Wakes every coroutine waiting for a state change so it re-checks the state."""
        waiters, self.__stateWaiters = self.__stateWaiters, []
        running = runningLoop()
        for waiter in waiters:
            if waiter.done():
                continue
            loop = waiter.get_loop()
            if loop is running:
                waiter.set_result(None)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, waiter)

    async def _waitUntil(self, check: Callable[[], tuple[bool, T]]) -> T:
        """Waits until ``check()`` reports done, re-checking after every state change."""
        while True:
            done, value = check()
            if done:
                return value
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.__stateWaiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self.__stateWaiters:
                    self.__stateWaiters.remove(waiter)

    # -- public events ----------------------------------------------------------------------

    def __readyCheck(self) -> Callable[[], tuple[bool, None]]:
        """A check that passes once the object is (or has meanwhile been) ready."""
        timesReadyBefore = self.__timesReady
        return lambda: self.__checkReady(timesReadyBefore)

    def __checkReady(self, timesReadyBefore: int) -> tuple[bool, None]:
        if self.__ready or self.__timesReady > timesReadyBefore:
            return True, None
        if self.__closed:
            raise ClosedBeforeReady(
                f"{type(self).__name__} closed before it became ready"
                + (f" (error: {self.__error!r})" if self.__error is not None else "")
            ) from self.__error
        return False, None

    def __checkError(self) -> tuple[bool, BaseException | None]:
        return (self.__error is not None or self.__closed), self.__error

    def __checkClosed(self) -> tuple[bool, None]:
        return self.__closed, None

    @overload
    def onReady(self, subscription: None = None) -> StateAwaitable[None]: ...
    @overload
    def onReady(self, subscription: L) -> L: ...
    def onReady(self, subscription: object = None) -> object:
        """Without argument: an awaitable that completes once the object is ready.

        It raises ``ClosedBeforeReady`` if the object closes without becoming ready.
        With a callback, coroutine function or sink: registers it for every change to
        ready and returns it (so it works as a decorator). On an object that is ready
        already, it is also called once soon, from the event loop, as a done-callback of
        a finished future would be.
        """
        self._bindLoop()
        if subscription is None:
            return StateAwaitable(lambda: self._waitUntil(self.__readyCheck()))
        if self.__readyListeners.add(subscription, "onReady()") and self.__ready:
            timesReady = self.__timesReady
            self._callSoon(lambda: self.__tellLateListener(subscription, timesReady))
        return subscription

    def __tellLateListener(self, listener: object, timesReady: int) -> None:
        """Calls a listener registered while ready, unless that ready spell has ended
        since (a later change to ready has called it already)."""
        if self.__ready and self.__timesReady == timesReady:
            self.__readyListeners.deliverTo(listener, None)

    @overload
    def onError(self, subscription: None = None) -> StateAwaitable[BaseException | None]: ...
    @overload
    def onError(self, subscription: L) -> L: ...
    def onError(self, subscription: object = None) -> object:
        """Without argument: an awaitable resolving to the error (None if it closes cleanly).

        With a callback, coroutine function or sink: registers it; it receives the exception.
        On an object that has already stopped with an error, it is also called once soon
        with that error.
        """
        self._bindLoop()
        if subscription is None:
            return StateAwaitable(lambda: self._waitUntil(self.__checkError))
        if self.__errorListeners.add(subscription, "onError()") and self.__error is not None:
            error = self.__error
            self._callSoon(lambda: self.__tellLateErrorListener(subscription, error))
        return subscription

    @overload
    def onClose(self, subscription: None = None) -> StateAwaitable[None]: ...
    @overload
    def onClose(self, subscription: L) -> L: ...
    def onClose(self, subscription: object = None) -> object:
        """Without argument: an awaitable that completes once the object has closed.

        With a callback, coroutine function or sink: registers it to be called on close.
        On an object that has closed already, it is called once soon instead.
        """
        self._bindLoop()
        if subscription is None:
            return StateAwaitable(lambda: self._waitUntil(self.__checkClosed))
        if self.__closeListeners.add(subscription, "onClose()") and self.__closed:
            self._callSoon(lambda: self.__tellLateCloseListener(subscription))
        return subscription

    def __tellLateErrorListener(self, listener: object, error: BaseException) -> None:
        self.__errorListeners.deliverTo(listener, error)

    def __tellLateCloseListener(self, listener: object) -> None:
        self.__closeListeners.deliverTo(listener, None)

    def __checkTornDown(self) -> tuple[bool, None]:
        return self._isTornDown(), None

    def __await__(self) -> Generator[Any, None, None]:
        """``await obj`` completes once the object has closed and its workers have ended."""
        self._bindLoop()
        return self._waitUntil(self.__checkTornDown).__await__()

    async def __aenter__(self) -> Self:
        """``async with obj as x``: ``x`` is the object itself."""
        self._bindLoop()
        return self

    async def __aexit__(
        self,
        excType: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Closes the object and waits until it is torn down, also when the block raised or
        was cancelled (the block's exception propagates). A cancellation that arrives while
        waiting does not cut the wait short; it is re-raised once teardown is done."""
        self.close()
        teardown = asyncio.ensure_future(self._waitUntil(self.__checkTornDown))
        cancelled: asyncio.CancelledError | None = None
        while not teardown.done():
            try:
                await asyncio.shield(teardown)
            except asyncio.CancelledError as cancellation:
                cancelled = cancellation
        if cancelled is not None:
            raise cancelled
        teardown.result()

    # -- description ------------------------------------------------------------------------

    def _reprDetails(self) -> list[str]:
        """What ``repr()`` shows after the class name: here the state (``ready``, ``not
        ready`` or ``closed``); subclasses add their own details to the list."""
        if self.__closed:
            return ["closed"]
        return ["ready" if self.__ready else "not ready"]

    def __repr__(self) -> str:
        name = type(self).__name__
        try:
            parts = [name, *self._reprDetails()]
            if self.__error is not None:
                parts.append("error=" + _shortened(repr(self.__error), REPR_ERROR_LENGTH))
        except Exception:  # e.g. half constructed: a subclass __init__ raised early
            return f"<{name}>"
        return "<" + " ".join(parts) + ">"


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class threadedEventHandler(baseEventHandler):
    """A :class:`baseEventHandler` whose ``_setReady`` and ``_setError`` may be called
    from any thread: they run in the object's event loop.

    The loop is ``loop`` if given, else the one running when the object is created, else
    the first loop that starts in the creating thread or uses the object.
    """

    def __init__(self, logger: logging.Logger | None = None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        baseEventHandler.__init__(self, logger)
        self._initLoopBinding(loop)

    def _initLoopBinding(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loopBinding = LoopBinding(loop)

    def _bindLoop(self) -> None:
        self._loopBinding.bind()

    def _callSoon(self, callback: Callable[[], None]) -> None:
        """Thread-safe :meth:`baseEventHandler._callSoon`: posted to the object's loop once
        one is bound (dropped if that loop has closed)."""

        def post() -> None:
            loop = self._loopBinding.loop
            assert loop is not None, "whenBound runs this once a loop is bound"
            try:
                loop.call_soon_threadsafe(callback)
            except RuntimeError:  # "Event loop is closed"
                self._log.debug("event loop closed; dropped %r", callback)

        self._loopBinding.whenBound(post)

    def _callInLoop(self, function: Callable[..., object], *args: object) -> None:
        """Runs ``function(*args)`` in the object's loop (inline when no loop exists yet)."""
        if self._loopBinding.loop is None:
            function(*args)
            return
        try:
            self._loopBinding.call(function, *args)
        except LoopGone:
            self._log.debug("event loop closed; dropped %s%r", function, args)

    def _runInLoop(self, function: Callable[[], None]) -> None:
        """Runs ``function()`` in the object's loop; right now if there is none (any more)."""
        self._bindLoop()
        try:
            self._loopBinding.call(function)
        except LoopGone:
            function()

    def _setReady(self, value: bool = True) -> None:
        """Thread-safe :meth:`baseEventHandler._setReady`."""
        self._callInLoop(baseEventHandler._setReady, self, value)

    def _setError(self, value: BaseException | None) -> None:
        """Thread-safe :meth:`baseEventHandler._setError`."""
        if value is not None and not isinstance(value, BaseException):
            baseEventHandler._setError(self, value)  # raises the TypeError in the caller
        self._callInLoop(baseEventHandler._setError, self, value)
