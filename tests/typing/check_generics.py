"""Checked by mypy, never run (tests/test_typing.py): the types that a type checker, and so
an editor, infers for rtcbot's generic producers, consumers and subscriptions. A line whose
``# type: ignore`` stops being needed fails too (``--strict`` warns about unused ignores)."""

from __future__ import annotations

import asyncio
from typing import Any, assert_type

import numpy as np

from rtcbot import (
    BaseSubscriptionProducer,
    CallbackSubscription,
    CVCamera,
    CVDisplay,
    EventSubscription,
    Frame,
    GetterSubscription,
    Microphone,
    MostRecentSubscription,
    PiCamera2,
    ProcessSubscriptionConsumer,
    ProcessSubscriptionProducer,
    ProcessSubscriptionProducerConsumer,
    Speaker,
    Subscription,
    SubscriptionConsumer,
    SubscriptionProducer,
    SubscriptionProducerConsumer,
    SyntheticCamera,
    SyntheticMicrophone,
    ThreadedSubscriptionConsumer,
    ThreadedSubscriptionProducer,
)


async def cameras() -> None:
    camera = SyntheticCamera()
    assert_type(camera.subscribe(), MostRecentSubscription[Frame])
    assert_type(await camera.subscribe().get(), Frame)
    assert_type(await camera.get(), Frame)
    frames: asyncio.Queue[Frame] = asyncio.Queue()
    assert_type(camera.subscribe(frames), asyncio.Queue[Frame])
    assert_type(CVCamera().subscribe(), MostRecentSubscription[Frame])
    assert_type(PiCamera2().subscribe(), MostRecentSubscription[Frame])
    assert_type(await CVCamera().get(), Frame)


async def audioAndDisplay() -> None:
    assert_type(Microphone().subscribe(), Subscription[Frame])
    assert_type(await SyntheticMicrophone().get(), Frame)
    Speaker().put_nowait(np.zeros(480, np.float32))
    CVDisplay().put_nowait(np.zeros((2, 2, 3), np.uint8))


async def inProcess() -> None:
    numbers: SubscriptionProducer[int] = SubscriptionProducer()
    assert_type(numbers.subscribe(), Subscription[int])
    assert_type(await numbers.get(), int)
    numbers.put_nowait("one")  # type: ignore[arg-type]
    words: SubscriptionConsumer[str] = SubscriptionConsumer()
    assert_type(await words.get(), str)
    words.put_nowait(1)  # type: ignore[arg-type]
    both: SubscriptionProducerConsumer[str, int] = SubscriptionProducerConsumer()
    both.put_nowait("in")
    assert_type(await both.get(), int)
    anything: BaseSubscriptionProducer[Any] = BaseSubscriptionProducer()
    assert_type(await anything.get(), Any)


class Bytes(ThreadedSubscriptionProducer[bytes]):
    def _producer(self) -> None:
        self._put_nowait(b"x")
        self._put_nowait("x")  # type: ignore[arg-type]


class Numbers(ThreadedSubscriptionConsumer[int]):
    def _consumer(self) -> None:
        assert_type(self._get(), int)


class Counts(ProcessSubscriptionProducer[dict[str, int]]):
    pass


class Sink(ProcessSubscriptionConsumer[Frame]):
    pass


class Detector(ProcessSubscriptionProducerConsumer[Frame, list[str]]):
    pass


async def threadsAndProcesses() -> None:
    assert_type(await Bytes().get(), bytes)
    assert_type(await Counts().get(), dict[str, int])
    assert_type(Counts().subscribe(), Subscription[dict[str, int]])
    assert_type(await Sink().onReady(), None)
    assert_type(await Detector().get(), list[str])


async def subscriptions() -> None:
    latest: MostRecentSubscription[int] = MostRecentSubscription()
    assert_type(latest.get_nowait(), int)
    assert_type(await latest.get(), int)
    latest.put_nowait("x")  # type: ignore[arg-type]
    event: EventSubscription[str] = EventSubscription()
    assert_type(await event, str)

    async def fetch() -> float:
        return 1.0

    assert_type(await GetterSubscription(fetch).get(), float)

    def show(item: int) -> None:
        pass

    CallbackSubscription(show).put_nowait("x")  # type: ignore[arg-type]
