"""Producers and consumers whose work runs in a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ._errors import ConsumerClosed
from ._loopbinding import LoopGone
from ._worker import ThreadedObject
from .base import BaseSubscriptionConsumer, BaseSubscriptionProducer, pickSubscriptionType
from .events import baseEventHandler

__all__ = ["ThreadedSubscriptionConsumer", "ThreadedSubscriptionProducer"]

T = TypeVar("T")


class ThreadedSubscriptionProducer(BaseSubscriptionProducer[T], ThreadedObject):
    """A producer whose ``_producer()`` runs in a worker thread.

    In ``_producer()``: call ``self._setReady(True)`` when the source is open, loop
    ``while not self._shouldClose``, publish with ``self._put_nowait(item)`` (thread-safe,
    order kept). Returning closes the object (reads then raise ``SourceEnded``); raising
    makes the exception its ``error``.
    The worker starts once construction is complete and the event loop is known.
    """

    def __init__(
        self,
        defaultSubscriptionType: Callable[[], Any] | None = None,
        logger: logging.Logger | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        daemonThread: bool = True,
        *,
        defaultSubscriptionClass: Callable[[], Any] | None = None,
        defaultAutosubscribe: bool = False,
    ) -> None:
        baseEventHandler.__init__(self, logger)
        self._initLoopBinding(loop)
        self._initProducer(
            pickSubscriptionType(type(self).__name__, defaultSubscriptionClass, defaultSubscriptionType),
            defaultAutosubscribe,
        )
        self._initWorker(self._producer, daemonThread)

    def _producer(self) -> None:
        """Override: the data-gathering loop, run in the worker thread."""
        raise NotImplementedError(f"{type(self).__name__} must override _producer() with its data-gathering loop")

    def _put_nowait(self, element: T) -> None:
        """Publishes ``element`` to all subscribers; callable from the worker thread."""
        if self._shouldClose:
            return
        try:
            self._loopBinding.call(BaseSubscriptionProducer._put_nowait, self, element)
        except LoopGone:
            self._shouldClose = True  # nobody can receive data any more: let the worker end

    def _workerExited(self, error: BaseException | None) -> None:
        if error is None:
            self._markEndOfData("its _producer() returned")
        ThreadedObject._workerExited(self, error)

    def close(self) -> None:
        """Stops the worker and closes; never waits for the worker (``await obj`` does)."""
        self._closeInLoop(lambda: BaseSubscriptionProducer.close(self))

    def _close(self) -> None:
        """Closes from the worker thread (or anywhere)."""
        self.close()


class ThreadedSubscriptionConsumer(BaseSubscriptionConsumer[T], ThreadedObject):
    """A consumer whose ``_consumer()`` runs in a worker thread.

    In ``_consumer()``: call ``self._setReady(True)``, then loop on ``data = self._get()``,
    which blocks the worker (not the event loop) until data arrives and raises
    ``ConsumerClosed`` once the consumer is closed.
    """

    def __init__(
        self,
        directPutSubscriptionType: Callable[[], Any] = asyncio.Queue,
        logger: logging.Logger | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        daemonThread: bool = True,
    ) -> None:
        baseEventHandler.__init__(self, logger)
        self._initLoopBinding(loop)
        self._initConsumer(directPutSubscriptionType)
        self._initWorker(self._consumer, daemonThread)

    def _consumer(self) -> None:
        """Override: the data-processing loop, run in the worker thread."""
        raise NotImplementedError(f"{type(self).__name__} must override _consumer() with its processing loop")

    def _get(self) -> T:  # type: ignore[override]  # blocking here, a coroutine in the base
        """Blocks the worker thread until the next item; raises ConsumerClosed on close."""
        if self._loopBinding.inLoopThread():
            raise RuntimeError(
                f"{type(self).__name__}._get() blocks; call it from _consumer() in the worker "
                "thread, not from the event loop"
            )
        if self._shouldClose:
            raise ConsumerClosed(f"{type(self).__name__} is closed")
        try:
            future = self._loopBinding.submit(self._nextItem)
        except LoopGone:
            raise ConsumerClosed("the event loop has closed") from None
        try:
            item: T = future.result()
        except concurrent.futures.CancelledError:
            raise ConsumerClosed("the read was cancelled: the event loop is shutting down") from None
        return item

    def close(self) -> None:
        """Closes: the worker's pending or next ``_get()`` raises ConsumerClosed."""
        self._closeInLoop(lambda: BaseSubscriptionConsumer.close(self))
