"""Ordered registries of listeners: whatever was passed to ``subscribe`` or ``onReady`` & co.

A listener is one of three kinds:

* a *sink*: any object with a callable ``put_nowait(item)``;
* a *coroutine function* (or an object whose ``__call__`` is one): each delivery runs it
  as a task;
* a plain *callable*: called synchronously during delivery.

Deliveries happen in registration order over a snapshot, so a listener may unsubscribe
itself (or others) while being called. A listener that raises is logged (rate limited) and
the remaining listeners still get the item. A sink that raises ``SubscriptionClosed`` has
closed for good and is removed.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Callable
from typing import Any

from .._ratelimit import RateLimitedLog
from ._errors import SubscriptionClosed


class ListenerKind(enum.Enum):
    SINK = "sink"
    COROUTINE = "coroutine function"
    FUNCTION = "function"


def isCoroutineCallable(obj: object) -> bool:
    """True for coroutine functions, partials of them and objects with an async ``__call__``."""
    if inspect.iscoroutinefunction(obj):
        return True
    if inspect.isroutine(obj) or isinstance(obj, type):
        return False
    return inspect.iscoroutinefunction(getattr(type(obj), "__call__", None))  # noqa: B004  the method, not callability


def classifyListener(listener: object, role: str = "subscribe()") -> ListenerKind:
    """Returns the kind of ``listener``; raises ``TypeError`` for anything unusable."""
    if callable(getattr(listener, "put_nowait", None)):
        return ListenerKind.SINK
    if isCoroutineCallable(listener):
        return ListenerKind.COROUTINE
    if callable(listener):
        return ListenerKind.FUNCTION
    raise TypeError(
        f"{role} needs an object with a put_nowait() method, a function or a coroutine "
        f"function, but got {listener!r} (type {type(listener).__name__}). "
        "Pass a subscription such as asyncio.Queue(), or a callback."
    )


class TaskKeeper:
    """Holds the tasks of coroutine listeners until they finish and logs their failures."""

    def __init__(self, log: RateLimitedLog) -> None:
        self._log = log
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, function: Callable[..., Any], *args: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"coroutine listener {function!r} can only run inside a running event loop; "
                "deliver data from inside the loop or subscribe a plain function instead"
            ) from None
        task = loop.create_task(function(*args))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._log.log(
                ("task", type(exc)),
                logging.ERROR,
                "coroutine listener raised %r",
                exc,
                exc_info=exc,
            )


class _Entry:
    __slots__ = ("listener", "kind", "active")

    def __init__(self, listener: object, kind: ListenerKind) -> None:
        self.listener = listener
        self.kind = kind
        self.active = True


class ListenerRegistry:
    """An ordered set of listeners and the delivery of one item to all of them.

    ``passItem=False`` is for events without a payload (ready, close): callables are then
    called with no argument and sinks get ``None``.
    """

    def __init__(self, log: RateLimitedLog, tasks: TaskKeeper, passItem: bool = True) -> None:
        self._log = log
        self._tasks = tasks
        self._passItem = passItem
        self._entries: tuple[_Entry, ...] = ()

    def add(self, listener: object, role: str = "subscribe()") -> bool:
        """Registers ``listener`` and returns True; registering one that is already there
        changes nothing and returns False."""
        kind = classifyListener(listener, role)
        if self._find(listener) is not None:
            return False
        self._entries = (*self._entries, _Entry(listener, kind))
        return True

    def remove(self, listener: object) -> bool:
        """Unregisters ``listener``; returns False if it was not registered."""
        entry = self._find(listener)
        if entry is None:
            return False
        entry.active = False
        self._entries = tuple(e for e in self._entries if e is not entry)
        return True

    def clear(self) -> None:
        for entry in self._entries:
            entry.active = False
        self._entries = ()

    def __len__(self) -> int:
        return len(self._entries)

    def _find(self, listener: object) -> _Entry | None:
        for entry in self._entries:
            if entry.listener is listener:
                return entry
        for entry in self._entries:
            try:
                if entry.listener == listener:
                    return entry
            except Exception:
                continue
        return None

    def deliver(self, item: object) -> int:
        """Gives ``item`` to every listener in order; returns how many listeners failed."""
        failures = 0
        for entry in self._entries:
            if entry.active:
                failures += self._deliverOne(entry, item)
        return failures

    def deliverTo(self, listener: object, item: object) -> int:
        """Gives ``item`` to ``listener`` alone, if it is still registered; returns 1 if it failed."""
        entry = self._find(listener)
        return 0 if entry is None else self._deliverOne(entry, item)

    def _deliverOne(self, entry: _Entry, item: object) -> int:
        listener: Any = entry.listener
        try:
            if entry.kind is ListenerKind.SINK:
                listener.put_nowait(item)
            elif entry.kind is ListenerKind.FUNCTION:
                if self._passItem:
                    listener(item)
                else:
                    listener()
            elif self._passItem:
                self._tasks.spawn(listener, item)
            else:
                self._tasks.spawn(listener)
        except SubscriptionClosed:
            self.remove(listener)
        except Exception as exc:
            self._log.log(
                (id(listener), type(exc)),
                logging.ERROR,
                "listener %r raised %r; the other listeners still got the item",
                listener,
                exc,
                exc_info=exc,
            )
            return 1
        return 0
