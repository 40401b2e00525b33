"""Ready-made subscriptions: objects to pass to ``subscribe()`` and ``putSubscription()``.

A *sink* has ``put_nowait(item)``; a *source* has ``async get()``. Most of these are both.
None of them is thread-safe: use them from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import numbers
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

import numpy as np

from ._ratelimit import RateLimitedLog
from .base._listeners import TaskKeeper, isCoroutineCallable
from .base._loopbinding import runningLoop
from .base.base import BaseSubscriptionProducer

__all__ = [
    "CallbackSubscription",
    "DelayedSubscription",
    "EventSubscription",
    "GetterSubscription",
    "MostRecentSubscription",
    "RebatchSubscription",
]

T = TypeVar("T")

_log = logging.getLogger("rtcbot.subscriptions")
_taskKeeper = TaskKeeper(RateLimitedLog(_log))


class _Nothing:
    def __repr__(self) -> str:
        return "<nothing>"


_NOTHING: Any = _Nothing()


class EventSubscription(Generic[T]):
    """A latch: ``get()`` (or awaiting the object) waits for the first ``put_nowait`` and
    from then on returns the latest value put, immediately. ``T``: the type of the values."""

    def __init__(self) -> None:
        self._value: Any = _NOTHING
        self._event = asyncio.Event()

    def put_nowait(self, value: T) -> None:
        """Stores ``value`` as the latest and releases every waiting reader."""
        self._value = value
        self._event.set()

    async def get(self) -> T:
        """Waits for the first put, then returns the latest value."""
        await self._event.wait()
        value: T = self._value
        return value

    def __await__(self) -> Generator[Any, None, T]:
        return self.get().__await__()


class _Delivery:
    """One item handed to the readers that were waiting when it was put."""

    __slots__ = ("item", "read")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.read = False


class MostRecentSubscription(Generic[T]):
    """Keeps only the newest item: a slow reader gets fewer items, never older ones.

    ``get()`` waits until something was put since the previous ``get()`` and returns the
    newest item; readers waiting together all get the same item. The item is released as
    soon as it has been read, so a frame is not kept alive by the subscription. ``T``:
    the type of the items (``MostRecentSubscription[Frame]``).
    """

    def __init__(self) -> None:
        self._pending: Any = _NOTHING
        self._pendingFrom: _Delivery | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()
        # What each woken waiter is to read. Not the futures' results: asyncio keeps the
        # future that woke a task referenced until that task yields, which would keep the
        # item (a frame and its slot) alive after the reader dropped it.
        self._delivered: dict[asyncio.Future[None], _Delivery] = {}

    def put_nowait(self, item: T) -> None:
        """Replaces any unread item with ``item`` and wakes the waiting readers."""
        waiters = [waiter for waiter in self._waiters if not waiter.done()]
        self._waiters.clear()
        delivery = _Delivery(item)
        for waiter in waiters:
            self._delivered[waiter] = delivery
            waiter.set_result(None)
        self._pending = _NOTHING if waiters else item
        self._pendingFrom = None

    def get_nowait(self) -> T:
        """The unread newest item; raises ``asyncio.QueueEmpty`` if there is none."""
        if self._pending is _NOTHING:
            raise asyncio.QueueEmpty
        item: T = self._pending
        self._pending, self._pendingFrom = _NOTHING, None
        return item

    async def get(self) -> T:
        """Returns the newest unread item, waiting for one if needed."""
        if self._pending is not _NOTHING:
            return self.get_nowait()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            missed = self._delivered.pop(waiter, None)
            if missed is not None:
                self._keepUnread(missed)
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        delivery = self._delivered.pop(waiter)
        delivery.read = True
        if self._pendingFrom is delivery:  # a cancelled co-reader had kept it: it is read now
            self._pending, self._pendingFrom = _NOTHING, None
        item: T = delivery.item
        return item

    def _keepUnread(self, delivery: _Delivery) -> None:
        """A reader was cancelled just as ``delivery`` reached it: keep it unless read."""
        if not delivery.read and self._pending is _NOTHING:
            self._pending, self._pendingFrom = delivery.item, delivery


class GetterSubscription(Generic[T]):
    """A source whose ``get()`` awaits ``callback()`` (a coroutine function) each time,
    e.g. ``GetterSubscription(consumer._get)``."""

    def __init__(self, callback: Callable[[], Awaitable[T]]) -> None:
        if not callable(callback):
            raise TypeError(f"GetterSubscription needs a coroutine function, got {callback!r}")
        self._callback = callback

    async def get(self) -> T:
        """Awaits the callback once and returns its result."""
        result = self._callback()
        if not inspect.isawaitable(result):
            raise TypeError(
                f"GetterSubscription's callback {self._callback!r} returned {result!r}, not an "
                "awaitable; pass an async function"
            )
        return await result


class CallbackSubscription(Generic[T]):
    """A sink that calls ``callback(item)`` for every item.

    By default the call happens on the next loop iteration (``loop`` or the running loop;
    from another thread it is posted thread-safely); with ``runDirect=True`` it happens
    inside ``put_nowait``. A coroutine function runs as a task per item.
    """

    def __init__(
        self,
        callback: Callable[[T], Any],
        loop: asyncio.AbstractEventLoop | None = None,
        runDirect: bool = False,
    ) -> None:
        if not callable(callback):
            raise TypeError(f"CallbackSubscription needs a function, got {callback!r}")
        self._callback = callback
        self._isCoroutine = isCoroutineCallable(callback)
        self._loop = loop
        self._runDirect = runDirect

    def put_nowait(self, item: T) -> None:
        """Calls (or schedules) the callback with ``item``."""
        if self._runDirect:
            self._run(item)
            return
        running = runningLoop()
        loop = self._loop if self._loop is not None else running
        if loop is None:
            raise RuntimeError(
                "CallbackSubscription.put_nowait() outside a running event loop: pass loop= or runDirect=True"
            )
        if loop is running:
            loop.call_soon(self._run, item)
        else:
            loop.call_soon_threadsafe(self._run, item)

    def _run(self, item: T) -> None:
        if self._isCoroutine:
            _taskKeeper.spawn(self._callback, item)
        else:
            self._callback(item)


class DelayedSubscription:
    """A source that subscribes to ``SubscriptionWriter`` only when first read.

    ``subscription`` is what to subscribe (None: the producer's default type); the active
    subscription is the attribute ``subscription`` after the first ``get()``.
    ``unsubscribe()`` is safe at any time; a later ``get()`` subscribes again.
    """

    def __init__(self, SubscriptionWriter: Any, subscription: Any = None) -> None:
        if not callable(getattr(SubscriptionWriter, "subscribe", None)):
            raise TypeError(
                f"DelayedSubscription needs a producer (an object with subscribe()), got {SubscriptionWriter!r}"
            )
        self.SubscriptionWriter = SubscriptionWriter
        self._requested = subscription
        self.subscription: Any = None

    async def get(self) -> Any:
        """Subscribes if not yet subscribed, then returns the next item."""
        if self.subscription is None:
            self.subscription = self.SubscriptionWriter.subscribe(self._requested)
        if isinstance(self.SubscriptionWriter, BaseSubscriptionProducer):
            return await self.SubscriptionWriter._readSubscription(self.subscription)
        return await self.subscription.get()

    def unsubscribe(self) -> None:
        """Stops the subscription if one was made; does nothing otherwise."""
        subscription, self.subscription = self.subscription, None
        if subscription is not None:
            with contextlib.suppress(KeyError):
                self.SubscriptionWriter.unsubscribe(subscription)


class RebatchSubscription:
    """Re-chunks numpy arrays along ``axis`` into pieces of exactly ``samples`` there.

    Feed it with ``put_nowait`` (or give it a ``subscription`` to read from); ``get()``
    returns the oldest complete chunk. A correctly sized input with nothing buffered is
    returned as is, without a copy. Any axis, negative ones included, works.
    """

    def __init__(self, samples: int, axis: int = 0, subscription: Any = None) -> None:
        if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples <= 0:
            raise ValueError(f"RebatchSubscription needs a positive integer samples, got {samples!r}")
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"RebatchSubscription's axis must be an integer, got {axis!r}")
        self._samples: int = int(samples)
        self._axis: int = int(axis)
        self._subscription: Any = subscription if subscription is not None else asyncio.Queue()
        self._pieces: list[np.ndarray[Any, Any]] = []
        self._buffered: int = 0
        self._chunks: deque[np.ndarray[Any, Any]] = deque()

    def put_nowait(self, data: Any) -> None:
        """Adds an array to the input."""
        self._subscription.put_nowait(data)

    async def get(self) -> np.ndarray[Any, Any]:
        """Returns the next chunk of exactly ``samples`` along the axis."""
        while not self._chunks:
            self._add(await self._subscription.get())
        return self._chunks.popleft()

    def _add(self, data: Any) -> None:
        array = data if isinstance(data, np.ndarray) else np.asarray(data)
        if array.dtype.kind not in "biufc" or array.ndim == 0:
            raise TypeError(f"RebatchSubscription needs numeric arrays of at least one dimension, got {data!r}")
        if not -array.ndim <= self._axis < array.ndim:
            raise ValueError(f"RebatchSubscription axis {self._axis} does not exist in an array of shape {array.shape}")
        axis = self._axis % array.ndim
        if self._pieces:
            expected = _shapeWithout(self._pieces[0].shape, axis)
            if _shapeWithout(array.shape, axis) != expected:
                raise ValueError(
                    f"RebatchSubscription got an array of shape {array.shape} after arrays of "
                    f"shape {self._pieces[0].shape}: all dimensions except axis {self._axis} "
                    "must match"
                )
        length = array.shape[axis]
        if length == 0:
            return
        if not self._pieces and length == self._samples:
            self._chunks.append(array)
            return
        self._pieces.append(array)
        self._buffered += length
        if self._buffered < self._samples:
            return
        joined = np.concatenate(self._pieces, axis=axis)
        complete = self._buffered // self._samples
        for index in range(complete):
            self._chunks.append(_slice(joined, axis, index * self._samples, (index + 1) * self._samples))
        rest = _slice(joined, axis, complete * self._samples, self._buffered).copy()
        self._buffered = rest.shape[axis]
        self._pieces = [rest] if self._buffered else []


def _shapeWithout(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + shape[axis + 1 :]


def _slice(array: np.ndarray[Any, Any], axis: int, start: int, stop: int) -> np.ndarray[Any, Any]:
    index: tuple[slice, ...] = (slice(None),) * axis + (slice(start, stop),)
    return array[index]
