"""Producers and consumers that live in the event loop, and the pieces they share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from ._errors import ClosedBeforeReady, ConsumerClosed, ProducerClosed, SourceEnded, SubscriptionClosed
from ._interrupt import INTERRUPTED, Interrupter
from ._listeners import ListenerRegistry
from .events import baseEventHandler

if TYPE_CHECKING:
    from ..streams import Publication

__all__ = [
    "BaseSubscriptionConsumer",
    "BaseSubscriptionProducer",
    "ClosedBeforeReady",
    "ConsumerClosed",
    "ConsumerStatistics",
    "NoClosedSubscription",
    "ProducerClosed",
    "ProducerConsumerStatistics",
    "ProducerStatistics",
    "SourceEnded",
    "Subscription",
    "SubscriptionClosed",
    "SubscriptionConsumer",
    "SubscriptionProducer",
    "SubscriptionProducerConsumer",
]

S = TypeVar("S")
T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")


class Subscription(Protocol[T]):
    """The type of what ``subscribe()`` makes by default: the producer puts items in with
    ``put_nowait``, you read them with ``await get()`` (``asyncio.Queue`` and
    :class:`~rtcbot.subscriptions.MostRecentSubscription` are two)."""

    def put_nowait(self, item: T, /) -> None:
        """Takes one item from the producer."""

    async def get(self) -> T:
        """The next item, waiting for one if needed."""


#: Longest pause between retries of a source whose ``get()`` keeps raising.
MAX_SOURCE_RETRY_DELAY = 1.0
FIRST_SOURCE_RETRY_DELAY = 0.01


def pickSubscriptionType(
    owner: str, classArg: Callable[[], Any] | None, typeArg: Callable[[], Any] | None
) -> Callable[[], Any]:
    """Resolves the two accepted spellings of the default subscription factory."""
    if classArg is not None and typeArg is not None and classArg is not typeArg:
        raise TypeError(
            f"{owner} got both defaultSubscriptionClass={classArg!r} and "
            f"defaultSubscriptionType={typeArg!r}; they are two spellings of one "
            "argument, pass only one"
        )
    chosen = classArg if classArg is not None else typeArg
    return chosen if chosen is not None else asyncio.Queue


@dataclass(frozen=True)
class ProducerStatistics:
    """A snapshot of a producer's counters."""

    published: int
    """Items given to ``_put_nowait`` while open."""
    subscribers: int
    """Subscriptions and callbacks currently registered."""
    listenerErrors: int
    """Deliveries that raised inside a subscriber (the others still got the item)."""


@dataclass(frozen=True)
class ConsumerStatistics:
    """A snapshot of a consumer's counters."""

    received: int
    """Items handed to the consumer's processing (``_get`` results)."""
    sourceSwitches: int
    """Times the active subscription was replaced."""
    sourceErrors: int
    """Reads of the active subscription that raised (retried with back-off)."""


@dataclass(frozen=True)
class ProducerConsumerStatistics(ConsumerStatistics, ProducerStatistics):
    """A snapshot of the counters of an object that both consumes and produces."""


def bothSidesCounters(obj: Any) -> dict[str, int]:
    """The producer and consumer counters of an object that is both, by field name."""
    return {
        **vars(BaseSubscriptionProducer.statistics(obj)),
        **vars(BaseSubscriptionConsumer.statistics(obj)),
    }


class NoClosedSubscription:
    """Wraps a zero-argument coroutine function (such as a consumer's ``_get``) as a source.

    ``get()`` returns what the function returns; if it raises ``SubscriptionClosed`` the
    wrapper raises ``asyncio.CancelledError`` instead, which a consumer treats as its
    upstream ending: it waits, without spinning, for a new subscription.
    """

    def __init__(self, awaitable: Callable[[], Awaitable[Any]]) -> None:
        if not callable(awaitable):
            raise TypeError(
                f"NoClosedSubscription needs a zero-argument coroutine function such as "
                f"consumer._get, got {awaitable!r}"
            )
        self._awaitable = awaitable

    async def get(self) -> Any:
        """Awaits the wrapped function; its ``SubscriptionClosed`` becomes ``CancelledError``."""
        try:
            return await self._awaitable()
        except SubscriptionClosed:
            raise asyncio.CancelledError() from None


class BaseSubscriptionProducer(baseEventHandler, Generic[T]):
    """The base of everything that emits data: it fans each item out to its subscribers.

    Subclasses publish with ``_put_nowait(item)``, call ``_setReady(True)`` once they
    produce, and watch ``_shouldClose`` (or override ``close``) to stop.
    ``defaultSubscriptionType`` is accepted as another spelling of
    ``defaultSubscriptionClass``. ``ready`` is the initial ready state. ``T`` is the type
    of the items (``BaseSubscriptionProducer[Frame]``); without it, anything.
    """

    def __init__(
        self,
        defaultSubscriptionClass: Callable[[], Any] | None = None,
        defaultAutosubscribe: bool = False,
        logger: logging.Logger | None = None,
        *,
        defaultSubscriptionType: Callable[[], Any] | None = None,
        ready: bool = True,
    ) -> None:
        baseEventHandler.__init__(self, logger)
        self._initProducer(
            pickSubscriptionType(type(self).__name__, defaultSubscriptionClass, defaultSubscriptionType),
            defaultAutosubscribe,
        )
        if ready:
            self._setReady(True)

    def _initProducer(self, subscriptionFactory: Callable[[], Any], autosubscribe: bool) -> None:
        self._shouldClose = False
        self._defaultSubscriptionClass = subscriptionFactory
        self._subscribers = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, True)
        self._defaultSubscription: Any = None
        self._producerReads = Interrupter()
        self._published = 0
        self._listenerErrors = 0
        self._endOfData: str | None = None
        if autosubscribe:
            self._defaultSubscription = self.subscribe()

    @overload
    def subscribe(self, subscription: None = None) -> Subscription[T]: ...
    @overload
    def subscribe(self, subscription: S) -> S: ...
    def subscribe(self, subscription: object = None) -> object:
        """Registers a subscription and returns it.

        Without argument, creates a new instance of the default subscription class. Also
        accepts an object with ``put_nowait``, a function (called synchronously with each
        item) or a coroutine function (run as a task per item). Anything else raises
        ``TypeError`` at once; subscribing to a closed producer raises ``ProducerClosed``
        (``SourceEnded`` if its data ran out).
        """
        self._bindLoop()
        if self.closed:
            raise self._closedError("cannot subscribe")
        if subscription is None:
            subscription = self._defaultSubscriptionClass()
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: object = None) -> None:
        """Removes a subscription; without argument removes the default one used by get().

        Removing something that was never subscribed raises ``KeyError``.
        """
        self._bindLoop()
        if subscription is None:
            subscription = self._defaultSubscription
            if subscription is None:
                return
        if subscription is self._defaultSubscription:
            self._defaultSubscription = None
        if not self._subscribers.remove(subscription) and not self.closed:
            raise KeyError(f"{subscription!r} is not subscribed to this {type(self).__name__}")

    def unsubscribeAll(self) -> None:
        """Removes every subscription, including the default one used by get()."""
        self._subscribers.clear()
        self._defaultSubscription = None

    async def get(self) -> T:
        """Returns the next item of the default subscription, created on the first call.

        After close, items the default subscription still holds are returned, then
        ``ProducerClosed`` (``SourceEnded`` if the data ran out) is raised; a ``get()``
        pending at close raises it too.
        """
        self._bindLoop()
        if self._defaultSubscription is None:
            if self.closed:
                raise self._closedError()
            self._defaultSubscription = self.subscribe()
        item: T = await self._readSubscription(self._defaultSubscription)
        return item

    async def _readSubscription(self, subscription: Any) -> Any:
        """Reads one item of one of our subscriptions, ending with SubscriptionClosed on close."""
        if not self.closed:
            item = await self._producerReads.run(subscription.get())
            if item is not INTERRUPTED:
                return item
        getNowait = getattr(subscription, "get_nowait", None)
        if getNowait is not None:
            try:
                return getNowait()
            except asyncio.QueueEmpty:
                pass
        raise self._closedError()

    def _closedError(self, doing: str = "") -> ProducerClosed:
        """The exception for reading from (or ``doing`` something with) this closed producer."""
        prefix = f"{doing}: " if doing else ""
        if self._endOfData is not None and self.error is None:
            return SourceEnded(f"{prefix}{type(self).__name__} has ended: {self._endOfData}")
        return ProducerClosed(f"{prefix}{type(self).__name__} is closed")

    def _markEndOfData(self, why: str) -> None:
        """Records that the data ran out (``why``), so that once the object closes its
        reads raise ``SourceEnded``. The first reason stays; ignored once closed (then it was
        closed for another reason)."""
        if not self.closed and self._endOfData is None:
            self._endOfData = why

    def _put_nowait(self, element: Any) -> None:
        """Gives ``element`` to every subscriber, in subscription order. Subclass-facing.

        Not checked against ``T``: a process producer's parent publishes the frames its
        child sends, whatever the child was given."""
        if self.closed:
            return
        self._published += 1
        self._listenerErrors += self._subscribers.deliver(element)

    def statistics(self) -> ProducerStatistics:
        """A snapshot of this producer's counters."""
        return ProducerStatistics(self._published, len(self._subscribers), self._listenerErrors)

    def publish(self, name: str, *, group: str | int | None = None, slotsPerProgram: int = 2) -> Publication:
        """Offers this producer's items to the other programs of this machine as stream
        ``name`` (``rtcbot.attach(name)`` there); call it in a running event loop.

        Frames already in shared memory (from devices and process producers) are handed on
        with no copy; other arrays are copied once into slots of the publication's own.
        Only this user (and root) may attach, unless ``group`` (a name or number) widens it
        to that group. Each program may hold ``slotsPerProgram`` frames at once: give the
        producer enough slots (``slotCount``) for the programs you expect. Raises
        ``StreamNameInUse`` if a live program publishes ``name``; a stale socket is replaced.
        """
        from ..streams import Publication

        return Publication(self, name, group=group, slotsPerProgram=slotsPerProgram)

    def _reprDetails(self) -> list[str]:
        """Adds the number of subscribers while open."""
        details = super()._reprDetails()
        if not self.closed:
            count = len(self._subscribers)
            details.append(f"{count} subscriber" + ("" if count == 1 else "s"))
        return details

    def _closeProducerSide(self) -> None:
        self._shouldClose = True
        self._subscribers.clear()
        self._producerReads.interrupt()

    def close(self) -> None:
        """Stops producing: removes all subscriptions, ends pending get() calls, fires onClose."""
        self._bindLoop()
        if self.closed:
            return
        self._closeProducerSide()
        baseEventHandler.close(self)

    def _close(self) -> None:
        """Closes from inside the producer's own implementation."""
        self.close()


class _ProducerSource:
    """A consumer's own subscription to a producer that was given to putSubscription()."""

    def __init__(self, producer: BaseSubscriptionProducer[Any], subscription: Any = None) -> None:
        self.producer = producer
        try:
            self._subscription: Any = producer.subscribe(subscription)
        except SubscriptionClosed:
            self._subscription = None

    async def get(self) -> Any:
        if self._subscription is None:
            raise self.producer._closedError()
        return await self.producer._readSubscription(self._subscription)

    def release(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(KeyError):
                self.producer.unsubscribe(self._subscription)
            self._subscription = None


class BaseSubscriptionConsumer(baseEventHandler, Generic[T]):
    """The base of everything that consumes data from one active source at a time.

    Data comes from ``put_nowait`` or from a subscription given to ``putSubscription``;
    switching sources is invisible to the implementation, which awaits ``_get()``. ``T``
    is the type of the items it takes (without it, anything).
    """

    def __init__(
        self,
        directPutSubscriptionType: Callable[[], Any] = asyncio.Queue,
        logger: logging.Logger | None = None,
        *,
        ready: bool = True,
    ) -> None:
        baseEventHandler.__init__(self, logger)
        self._initConsumer(directPutSubscriptionType)
        if ready:
            self._setReady(True)

    def _initConsumer(self, directPutSubscriptionType: Callable[[], Any]) -> None:
        self._shouldClose = False
        self._directPutSubscriptionType = directPutSubscriptionType
        self._directPutSubscription: Any = directPutSubscriptionType()
        self._subscription: Any = self._directPutSubscription
        self._source: Any = self._directPutSubscription
        self._endedSource: Any = None
        self._consumerReads = Interrupter()
        self._received = 0
        self._sourceSwitches = 0
        self._sourceErrors = 0

    @property
    def subscription(self) -> Any:
        """The active subscription, or None while reading what ``put_nowait`` inserts."""
        if self._subscription is self._directPutSubscription:
            return None
        return self._subscription

    def put_nowait(self, data: T) -> None:
        """Sends ``data`` to the consumer directly, stopping any active subscription first.

        Raises ``ConsumerClosed`` once the consumer has closed.
        """
        self._bindLoop()
        if self.closed:
            raise ConsumerClosed(f"cannot put: {type(self).__name__} is closed")
        if self._subscription is not self._directPutSubscription:
            self.stopSubscription()
        self._directPutSubscription.put_nowait(data)

    def putSubscription(self, subscription: Any) -> None:
        """Makes ``subscription`` (anything with ``async get()``) the active source.

        The switch is invisible to a pending ``_get()``, which reads the new source. A
        producer given here gets a subscription of this consumer's own, which is removed
        when the consumer switches away or closes. Raises ``ConsumerClosed`` once closed.
        """
        self._bindLoop()
        if subscription is self._subscription:
            return
        if not callable(getattr(subscription, "get", None)):
            raise TypeError(
                f"putSubscription() needs an object with an async get() method (a queue, a "
                f"subscription or a producer), got {subscription!r}"
            )
        if self.closed:
            raise ConsumerClosed(f"cannot subscribe: {type(self).__name__} is closed")
        if isinstance(subscription, BaseSubscriptionProducer):
            source: Any = _ProducerSource(subscription, self._producerSubscription())
        else:
            source = subscription
        self._switchTo(subscription, source)

    def _producerSubscription(self) -> Any:
        """The subscription this consumer reads a producer given to putSubscription() with;
        None (here) takes the producer's default subscription class. Subclass-facing."""
        return None

    def stopSubscription(self) -> None:
        """Stops reading the active subscription; the consumer then waits for put_nowait()."""
        self._bindLoop()
        self._directPutSubscription = self._directPutSubscriptionType()
        self._switchTo(self._directPutSubscription, self._directPutSubscription)

    def _switchTo(self, subscription: Any, source: Any) -> None:
        self._releaseSource()
        self._subscription = subscription
        self._source = source
        self._sourceSwitches += 1
        self._consumerReads.interrupt()

    def _releaseSource(self) -> None:
        if isinstance(self._source, _ProducerSource):
            self._source.release()

    async def _get(self) -> T:
        """The next item of the active source. Subclass-facing.

        Survives source switches. When the source ends (raises ``SubscriptionClosed``) it
        waits for a new one; when it raises anything else it retries with back-off.
        Raises ``ConsumerClosed`` once the consumer is closed; a caller's cancellation
        propagates as usual.
        """
        item: T = await self._nextItem()
        return item

    async def _nextItem(self) -> Any:
        self._bindLoop()
        task = asyncio.current_task()
        retryDelay = FIRST_SOURCE_RETRY_DELAY
        while True:
            if self.closed:
                raise ConsumerClosed(f"{type(self).__name__} is closed")
            source = self._source
            if source is self._endedSource:
                await self._consumerReads.run(asyncio.get_running_loop().create_future())
                continue
            try:
                item = await self._consumerReads.run(source.get())
            except SubscriptionClosed:
                self._sourceEnded(source)
                continue
            except asyncio.CancelledError:
                if task is not None and task.cancelling():
                    raise
                self._sourceEnded(source)  # NoClosedSubscription: its upstream closed
                continue
            except Exception as exc:
                self._sourceErrors += 1
                self._rateLimitedLog.log(
                    ("source", type(exc)),
                    logging.ERROR,
                    "reading %r raised %r; retrying in %.2f s",
                    self._subscription,
                    exc,
                    retryDelay,
                    exc_info=exc,
                )
                await self._consumerReads.run(asyncio.sleep(retryDelay))
                retryDelay = min(retryDelay * 2, MAX_SOURCE_RETRY_DELAY)
                continue
            if item is INTERRUPTED:
                continue
            self._received += 1
            return item

    def _sourceEnded(self, source: Any) -> None:
        self._log.debug("source %r ended; waiting for a new subscription", self._subscription)
        self._endedSource = source

    def statistics(self) -> ConsumerStatistics:
        """A snapshot of this consumer's counters."""
        return ConsumerStatistics(self._received, self._sourceSwitches, self._sourceErrors)

    def _reprDetails(self) -> list[str]:
        """Adds the type of the active subscription, if there is one."""
        details = super()._reprDetails()
        if not self.closed and self.subscription is not None:
            details.append(f"source={type(self.subscription).__name__}")
        return details

    def _closeConsumerSide(self) -> None:
        self._shouldClose = True
        self._releaseSource()
        self._consumerReads.interrupt()

    def close(self) -> None:
        """Closes the consumer: a pending or later ``_get()`` raises ConsumerClosed."""
        self._bindLoop()
        if self.closed:
            return
        self._closeConsumerSide()
        baseEventHandler.close(self)


class SubscriptionProducer(BaseSubscriptionProducer[T]):
    """A producer you feed yourself with the public ``put_nowait``."""

    def put_nowait(self, element: T) -> None:
        """Gives ``element`` to every subscriber."""
        self._put_nowait(element)


class SubscriptionConsumer(BaseSubscriptionConsumer[T]):
    """A consumer you read yourself with the public ``get``."""

    async def get(self) -> T:
        """The next item of the active source (see ``_get``)."""
        return await self._get()


class SubscriptionProducerConsumer(BaseSubscriptionConsumer[In], BaseSubscriptionProducer[Out]):
    """Both a consumer (input: ``put_nowait``, ``putSubscription``; the implementation reads
    ``_get()``) and a producer (output: the implementation writes ``_put_nowait()``; users
    read ``subscribe()``/``get()``). Two-way connections are built on it. Its type
    parameters are the types of the input and of the output items.
    """

    def __init__(
        self,
        directPutSubscriptionType: Callable[[], Any] = asyncio.Queue,
        defaultSubscriptionType: Callable[[], Any] | None = None,
        logger: logging.Logger | None = None,
        defaultAutosubscribe: bool = False,
        *,
        defaultSubscriptionClass: Callable[[], Any] | None = None,
        ready: bool = True,
    ) -> None:
        baseEventHandler.__init__(self, logger)
        self._initConsumer(directPutSubscriptionType)
        self._initProducer(
            pickSubscriptionType(type(self).__name__, defaultSubscriptionClass, defaultSubscriptionType),
            defaultAutosubscribe,
        )
        if ready:
            self._setReady(True)

    def statistics(self) -> ProducerConsumerStatistics:
        """A snapshot of the counters of both sides."""
        return ProducerConsumerStatistics(**bothSidesCounters(self))

    def close(self) -> None:
        """Closes both the input and the output side."""
        self._bindLoop()
        if self.closed:
            return
        self._closeConsumerSide()
        self._closeProducerSide()
        baseEventHandler.close(self)
