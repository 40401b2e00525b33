"""Producers and consumers whose work runs in a child process, with frames moving
through shared memory without copies.

Subclass and override the work method: ``_producer()``, ``_consumer()`` or
``_producerConsumer()``. It runs in the child, where ``self._setReady()``,
``self._put_nowait()``, ``self._get()``, ``self._setError()``, ``self._close()`` and
``self._shouldClose`` talk to the parent. The child gets the class and the attributes you
set (before or after ``super().__init__()``); under the ``spawn`` and ``forkserver``
start methods these must pickle.

Numpy arrays travel through slots of a shared-memory ring and arrive as read-only
:class:`~rtcbot.shm.Frame` views; other items are pickled. Both keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..shm.protocol import Kind, MessageReader, decodeFrame
from ..shm.ring import DEFAULT_SLOT_COUNT, checkSlotSize, fitsInSlot
from ._child import internalSubscriptionMessage
from ._errors import ChildProcessDied, RemoteError, RemoteTraceback, SubscriptionClosed
from ._processobject import SEND_HIGH_WATER, ProcessObject, TransportStatistics
from .base import (
    BaseSubscriptionConsumer,
    BaseSubscriptionProducer,
    ConsumerStatistics,
    ProducerConsumerStatistics,
    ProducerStatistics,
    bothSidesCounters,
    pickSubscriptionType,
)

__all__ = [
    "ChildProcessDied",
    "ProcessConsumerStatistics",
    "ProcessProducerConsumerStatistics",
    "ProcessProducerStatistics",
    "ProcessSubscriptionConsumer",
    "ProcessSubscriptionProducer",
    "ProcessSubscriptionProducerConsumer",
    "RemoteError",
    "RemoteTraceback",
    "TransportStatistics",
    "internalSubscriptionMessage",
]

T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class ProcessProducerStatistics(ProducerStatistics):
    """A process producer's counters, with its transport from the child."""

    fromChild: TransportStatistics


@dataclass(frozen=True)
class ProcessConsumerStatistics(ConsumerStatistics):
    """A process consumer's counters, with its transport to the child."""

    toChild: TransportStatistics


@dataclass(frozen=True)
class ProcessProducerConsumerStatistics(ProducerConsumerStatistics):
    """Counters of both sides and both transport directions."""

    fromChild: TransportStatistics
    toChild: TransportStatistics


class _ProducesFromChild(ProcessObject, BaseSubscriptionProducer[T]):
    """What the producing classes share: the child publishes, the parent fans out."""

    def _put_nowait(self, element: Any, *, timestamp: int | None = None, deviceTimestamp: float | None = None) -> None:
        """Publishes ``element``. In the child: sends it to the parent (arrays through a
        shared-memory slot, stamped with ``timestamp`` in ``time.monotonic_ns()`` units,
        default now, and the device's own ``deviceTimestamp`` if given)."""
        link = self._childLink
        if link is not None:
            link.put(element, timestamp, deviceTimestamp)
        else:
            BaseSubscriptionProducer._put_nowait(self, element)

    def _claimFrame(
        self, shape: tuple[int, ...], dtype: Any = np.uint8, *, wait: float = 0.0
    ) -> np.ndarray[Any, Any] | None:
        """In the child: a writable array in a free slot. Fill it (e.g. ``cap.read(image=a)``)
        and pass it to ``_put_nowait``: the frame then reaches the parent with no copy at all;
        or hand it back with ``_unclaimFrame``. When subscribers hold every slot, waits up to
        ``wait`` seconds (``math.inf``: until a slot is free or the object closes) and then
        returns None: the frame is counted as dropped. Live sources keep ``wait=0``."""
        link = self._inChild("_claimFrame")
        frame: np.ndarray[Any, Any] | None = link.claimFrame(shape, dtype, wait)
        return frame

    def _unclaimFrame(self, frame: np.ndarray[Any, Any]) -> None:
        """In the child: gives back an array from ``_claimFrame`` that will not be published."""
        self._inChild("_unclaimFrame").unclaimFrame(frame)

    def _childReturned(self) -> None:
        """Reads after the data sent before the end raise ``SourceEnded``."""
        self._markEndOfData(f"its {self._settings.workMethod}() returned")
        ProcessObject._childReturned(self)

    def _onChildMessage(self, kind: Kind, payload: bytes, reader: MessageReader) -> None:
        """In the parent: what the child published, in the order it was sent."""
        if kind is Kind.FRAME:
            self._receiveFrame(payload)
        elif kind is Kind.ITEM:
            self._receiveItem(payload)
        else:
            super()._onChildMessage(kind, payload, reader)

    def _receiveFrame(self, payload: bytes) -> None:
        """A frame announced by the child becomes a read-only view of its slot, handed to
        every subscriber (or given back at once when there is none)."""
        header = decodeFrame(payload)
        self._childDroppedSlotsFull = header.dropped
        self._framesFromChild += 1
        if not self._subscribers:
            self._fromChild.discard(header)
            return
        BaseSubscriptionProducer._put_nowait(self, self._fromChild.frame(header, time.monotonic_ns()))

    def _receiveItem(self, payload: bytes) -> None:
        self._itemMessagesFromChild += 1
        decoded, item = self._unpickleFromChild(payload, "an item")
        if decoded:
            self._itemsFromChild += 1
            if self._acceptFromChild(item):
                BaseSubscriptionProducer._put_nowait(self, item)

    def _acceptFromChild(self, item: Any) -> bool:
        """Override (in the parent) to drop an item (not a frame) from the child before any
        subscriber sees it: a filter there need not pickle."""
        return True


class _ConsumesInChild(ProcessObject, BaseSubscriptionConsumer[T]):
    """What the consuming classes share: the parent feeds the child from the subscription."""

    def put_nowait(self, data: Any) -> None:
        """Sends ``data`` to the child (see ``BaseSubscriptionConsumer.put_nowait``). An
        array too large for shared memory is refused here, with a ValueError."""
        if fitsInSlot(data):
            checkSlotSize(data.shape, data.dtype)
        BaseSubscriptionConsumer.put_nowait(self, data)

    def _get(self, timeout: float | None = None) -> Any:
        """In the child: the next item, blocking (without spinning) until one arrives, or
        ``TimeoutError`` after ``timeout`` seconds. Raises ``SubscriptionClosed`` once the
        object is closed."""
        return self._inChild("_get").get(timeout)

    def _getLatest(self, timeout: float | None = None) -> Any:
        """In the child: like ``_get``, but returns the newest item that has arrived and
        discards older ones (a display wants the latest frame, not a backlog)."""
        return self._inChild("_getLatest").getLatest(timeout)

    def _startFeeding(self, loop: asyncio.AbstractEventLoop) -> None:
        self._slotFreed = asyncio.Event()
        self._feeder = loop.create_task(self._feedChild())

    async def _feedChild(self) -> None:
        """Sends the active source's items to the child. While the child holds every slot,
        the next array waits here, and what arrives meanwhile waits in the subscription,
        whose policy decides what is kept (a queue keeps all, MostRecent the latest)."""
        try:
            while True:
                item = await self._nextItem()
                if fitsInSlot(item):
                    await self._slotFor(item)
                self._sendToChild(item)
                if self._channel.pendingBytes > SEND_HIGH_WATER:
                    await self._channel.drained()
        except SubscriptionClosed:
            pass

    async def _slotFor(self, array: np.ndarray[Any, Any]) -> None:
        assert self._slotFreed is not None
        try:
            while self._toChild.isFull(array.shape, array.dtype):
                self._slotFreed.clear()
                await self._slotFreed.wait()
        except ValueError:
            pass  # too large for any slot: _sendToChild reports it


class ProcessSubscriptionProducer(_ProducesFromChild[T]):
    """A producer whose ``_producer()`` runs in a child process.

    In ``_producer()``: call ``self._setReady(True)``, loop ``while not self._shouldClose``
    and publish with ``self._put_nowait(x)``. Returning (or raising) ends the child and
    closes the object; everything published before arrives first, in order.

    ``slotCount`` slots of shared memory carry arrays (a frame is dropped and counted when
    subscribers hold every slot); ``startMethod`` picks ``fork``, ``forkserver`` or
    ``spawn`` (default: multiprocessing's default, always: so what works under it, e.g. a
    ``multiprocessing.Queue()`` attribute, reaches the child).
    """

    def __init__(
        self,
        defaultSubscriptionType: Callable[[], Any] | None = None,
        logger: logging.Logger | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        daemonProcess: bool = True,
        joinTimeout: float = 1,
        *,
        defaultSubscriptionClass: Callable[[], Any] | None = None,
        defaultAutosubscribe: bool = False,
        slotCount: int = DEFAULT_SLOT_COUNT,
        startMethod: str | None = None,
    ) -> None:
        userNames = self._initHandler(logger, loop)
        self._initProducer(
            pickSubscriptionType(type(self).__name__, defaultSubscriptionClass, defaultSubscriptionType),
            defaultAutosubscribe,
        )
        self._initProcess(userNames, "_producer", daemonProcess, joinTimeout, slotCount, startMethod)

    def _producer(self) -> None:
        """Override: the data-gathering loop, run in the child process."""
        raise NotImplementedError(f"{type(self).__name__} must override _producer()")

    def _closeSides(self) -> None:
        self._closeProducerSide()

    def statistics(self) -> ProcessProducerStatistics:
        """A snapshot of the counters, including the transport from the child."""
        base = BaseSubscriptionProducer.statistics(self)
        return ProcessProducerStatistics(
            base.published, base.subscribers, base.listenerErrors, self._fromChildStatistics()
        )


class ProcessSubscriptionConsumer(_ConsumesInChild[T]):
    """A consumer whose ``_consumer()`` runs in a child process.

    The parent reads the active subscription (or what ``put_nowait`` inserts) and sends
    each item to the child, arrays through shared memory. In ``_consumer()``: call
    ``self._setReady(True)`` and loop on ``self._get()``, which raises
    ``SubscriptionClosed`` once the object is closed.
    """

    def __init__(
        self,
        directPutSubscriptionType: Callable[[], Any] = asyncio.Queue,
        logger: logging.Logger | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        daemonProcess: bool = True,
        joinTimeout: float = 1,
        *,
        slotCount: int = DEFAULT_SLOT_COUNT,
        startMethod: str | None = None,
    ) -> None:
        userNames = self._initHandler(logger, loop)
        self._initConsumer(directPutSubscriptionType)
        self._initProcess(userNames, "_consumer", daemonProcess, joinTimeout, slotCount, startMethod)

    def _consumer(self) -> None:
        """Override: the data-processing loop, run in the child process."""
        raise NotImplementedError(f"{type(self).__name__} must override _consumer()")

    def _closeSides(self) -> None:
        self._closeConsumerSide()

    def statistics(self) -> ProcessConsumerStatistics:
        """A snapshot of the counters, including the transport to the child."""
        base = BaseSubscriptionConsumer.statistics(self)
        return ProcessConsumerStatistics(
            base.received, base.sourceSwitches, base.sourceErrors, self._toChildStatistics()
        )


class ProcessSubscriptionProducerConsumer(_ConsumesInChild[In], _ProducesFromChild[Out]):
    """Both, in one child process: ``_producerConsumer()`` reads with ``self._get()`` and
    publishes with ``self._put_nowait()`` (e.g. frames in, detections out)."""

    def __init__(
        self,
        directPutSubscriptionType: Callable[[], Any] = asyncio.Queue,
        defaultSubscriptionType: Callable[[], Any] | None = None,
        logger: logging.Logger | None = None,
        defaultAutosubscribe: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        daemonProcess: bool = True,
        joinTimeout: float = 1,
        *,
        defaultSubscriptionClass: Callable[[], Any] | None = None,
        slotCount: int = DEFAULT_SLOT_COUNT,
        startMethod: str | None = None,
    ) -> None:
        userNames = self._initHandler(logger, loop)
        self._initConsumer(directPutSubscriptionType)
        self._initProducer(
            pickSubscriptionType(type(self).__name__, defaultSubscriptionClass, defaultSubscriptionType),
            defaultAutosubscribe,
        )
        self._initProcess(userNames, "_producerConsumer", daemonProcess, joinTimeout, slotCount, startMethod)

    def _producerConsumer(self) -> None:
        """Override: the processing loop, run in the child process."""
        raise NotImplementedError(f"{type(self).__name__} must override _producerConsumer()")

    def _closeSides(self) -> None:
        self._closeConsumerSide()
        self._closeProducerSide()

    def statistics(self) -> ProcessProducerConsumerStatistics:
        """A snapshot of the counters of both sides and both directions."""
        return ProcessProducerConsumerStatistics(
            **bothSidesCounters(self), fromChild=self._fromChildStatistics(), toChild=self._toChildStatistics()
        )
