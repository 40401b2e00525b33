"""Why a subscription ended (issue 15): each cause raises its own subclass of
SubscriptionClosed, and ``except SubscriptionClosed`` still catches every one."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time

import pytest

import rtcbot
from rtcbot import (
    ClosedBeforeReady,
    ConsumerClosed,
    ProducerClosed,
    SourceEnded,
    SubscriptionClosed,
    SubscriptionConsumer,
    SubscriptionProducer,
)
from rtcbot.base import ThreadedSubscriptionConsumer, ThreadedSubscriptionProducer, baseEventHandler


class Finite(ThreadedSubscriptionProducer[int]):
    """Publishes nothing and returns once released: its data has run out."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def _producer(self) -> None:
        self._setReady(True)
        self.release.wait(5)


class Ticking(ThreadedSubscriptionProducer[int]):
    """Ready once its worker runs; ends when closed."""

    def _producer(self) -> None:
        self._setReady(True)
        while not self._shouldClose:
            time.sleep(0.001)


class Reader(ThreadedSubscriptionConsumer[int]):
    """Keeps the exception its worker's _get() ended with."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: BaseException | None = None

    def _consumer(self) -> None:
        self._setReady(True)
        try:
            while True:
                self._get()
        except SubscriptionClosed as ended:
            self.ended = ended
            raise


def test_the_subclasses_are_SubscriptionClosed_and_pickle_under_the_documented_module() -> None:
    for cls in (ProducerClosed, SourceEnded, ClosedBeforeReady, ConsumerClosed):
        assert issubclass(cls, SubscriptionClosed)
        assert cls.__module__ == "rtcbot.base.base"
        assert getattr(rtcbot.base.base, cls.__name__) is cls is getattr(rtcbot.base, cls.__name__)
        copy = pickle.loads(pickle.dumps(cls("why")))
        assert type(copy) is cls and str(copy) == "why"
    assert issubclass(SourceEnded, ProducerClosed)


async def test_reading_or_subscribing_to_a_closed_producer_raises_ProducerClosed() -> None:
    producer: SubscriptionProducer[int] = SubscriptionProducer()
    pending = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)  # let the get() start waiting
    producer.close()
    with pytest.raises(ProducerClosed, match="SubscriptionProducer is closed") as raised:
        await pending
    assert type(raised.value) is ProducerClosed
    with pytest.raises(ProducerClosed):
        await producer.get()
    with pytest.raises(ProducerClosed, match="cannot subscribe"):
        producer.subscribe()
    with pytest.raises(SubscriptionClosed):
        producer.subscribe()


async def test_a_producer_whose_work_returned_raises_SourceEnded() -> None:
    producer = Finite()
    await producer.onReady()
    pending = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)
    producer.release.set()
    with pytest.raises(SourceEnded, match="_producer\\(\\) returned"):
        await pending
    await producer
    with pytest.raises(SourceEnded):
        producer.subscribe()
    with pytest.raises(SubscriptionClosed):
        await producer.get()


async def test_a_threaded_producer_closed_by_close_raises_plain_ProducerClosed() -> None:
    producer = Ticking()
    await producer.onReady()
    producer.close()
    await producer
    with pytest.raises(ProducerClosed) as raised:
        await producer.get()
    assert type(raised.value) is ProducerClosed


async def test_a_producer_stopped_by_an_error_raises_plain_ProducerClosed() -> None:
    producer: SubscriptionProducer[int] = SubscriptionProducer()
    producer._markEndOfData("would have ended")
    producer._setError(RuntimeError("broken"))
    with pytest.raises(ProducerClosed) as raised:
        await producer.get()
    assert type(raised.value) is ProducerClosed


async def test_awaiting_onReady_of_an_object_that_closed_first_raises_ClosedBeforeReady() -> None:
    handler = baseEventHandler()
    waiter = asyncio.ensure_future(handler.onReady().get())
    await asyncio.sleep(0)
    error = OSError("no device")
    handler._setError(error)
    with pytest.raises(ClosedBeforeReady, match="before it became ready") as raised:
        await waiter
    assert raised.value.__cause__ is error
    with pytest.raises(SubscriptionClosed):
        await handler.onReady()


async def test_using_a_closed_consumer_raises_ConsumerClosed() -> None:
    consumer: SubscriptionConsumer[int] = SubscriptionConsumer()
    pending = asyncio.ensure_future(consumer.get())
    await asyncio.sleep(0)
    consumer.close()
    with pytest.raises(ConsumerClosed):
        await pending
    with pytest.raises(ConsumerClosed, match="cannot put"):
        consumer.put_nowait(1)
    with pytest.raises(ConsumerClosed, match="cannot subscribe"):
        consumer.putSubscription(asyncio.Queue())
    with pytest.raises(SubscriptionClosed):
        await consumer.get()


async def test_a_threaded_consumer_worker_sees_ConsumerClosed() -> None:
    reader = Reader()
    await reader.onReady()
    reader.close()
    await reader
    assert isinstance(reader.ended, ConsumerClosed)
    assert reader.error is None
