"""Model-based tests (hypothesis stateful): random sequences of subscribe, unsubscribe,
publish, get and close on the in-process, threaded and process producers, and of put,
switch, get and close on consumers, checked step by step against a small model of the
documented semantics."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from rtcbot import SubscriptionClosed, SubscriptionConsumer, SubscriptionProducer

from .workers import Commanded, Mirror

ITEMS = st.integers(min_value=0, max_value=10**6)
# In the suite: 25 fixed examples each (derandomized, so CI is reproducible). For a deeper,
# random search: MODEL_EXAMPLES=300 scripts/test tests/reliability/test_model.py
SETTINGS = settings(
    max_examples=int(os.environ.get("MODEL_EXAMPLES", 25)),
    derandomize="MODEL_EXAMPLES" not in os.environ,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class ProducerFamily:
    """How to make a producer of one family and publish through it, waiting until it has."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.producer: Any = None

    def make(self) -> Any:
        raise NotImplementedError

    def publish(self, item: int) -> None:
        raise NotImplementedError

    def started(self, make: Any) -> Any:
        """A worker-backed producer from ``make()``, once it is ready."""

        async def create() -> Any:
            producer = make()
            await producer.onReady()
            return producer

        return self.loop.run_until_complete(create())

    def publishAndWait(self, send: Any, item: int) -> None:
        """Hands ``item`` to the worker with ``send`` and waits until it has been published."""
        before = self.producer.statistics().published

        async def until() -> None:
            while self.producer.statistics().published <= before:
                await asyncio.sleep(0.001)

        send(item)
        self.loop.run_until_complete(asyncio.wait_for(until(), 10))


class InProcess(ProducerFamily):
    def make(self) -> Any:
        return SubscriptionProducer()

    def publish(self, item: int) -> None:
        self.producer.put_nowait(item)


class Threaded(ProducerFamily):
    def make(self) -> Any:
        return self.started(Commanded)

    def publish(self, item: int) -> None:
        self.publishAndWait(self.producer.commands.put, item)


class InChildProcess(ProducerFamily):
    def make(self) -> Any:
        return self.started(Mirror)

    def publish(self, item: int) -> None:
        self.publishAndWait(self.producer.put_nowait, item)  # the child sends it back: that is the publishing


class ProducerMachine(RuleBasedStateMachine):
    """Model: each live subscription is a FIFO of what was published while it was subscribed."""

    family: type[ProducerFamily] = InProcess
    subscriptions = Bundle("subscriptions")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.maker = self.family(self.loop)
        self.producer = self.maker.producer = self.maker.make()
        self.model: dict[int, deque[int]] = {}
        self.subscribed: set[int] = set()
        self.closed = False

    @rule(target=subscriptions)
    def subscribe(self) -> Any:
        if self.closed:
            with pytest.raises(SubscriptionClosed):
                self.producer.subscribe()
            return None
        subscription = self.producer.subscribe()
        self.model[id(subscription)] = deque()
        self.subscribed.add(id(subscription))
        return subscription

    @rule(subscription=consumes(subscriptions))
    def unsubscribe(self, subscription: Any) -> None:
        if subscription is None:
            return
        self.producer.unsubscribe(subscription)
        self.subscribed.discard(id(subscription))

    @precondition(lambda self: not self.closed)
    @rule(item=ITEMS)
    def publish(self, item: int) -> None:
        self.maker.publish(item)
        for key in self.subscribed:
            self.model[key].append(item)

    @rule(subscription=subscriptions)
    def get(self, subscription: Any) -> None:
        if subscription is None:
            return
        expected = self.model[id(subscription)]
        if expected:
            assert subscription.get_nowait() == expected.popleft()
        else:
            assert subscription.empty()

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        self.producer.close()
        self.closed = True
        self.subscribed.clear()  # nothing more arrives; what is queued stays readable

    @invariant()
    def countsAgree(self) -> None:
        if not self.closed:
            assert self.producer.statistics().subscribers == len(self.subscribed)

    def teardown(self) -> None:
        self.producer.close()
        self.loop.run_until_complete(_finished(self.producer))
        asyncio.set_event_loop(None)
        self.loop.close()


async def _finished(obj: Any) -> None:
    if hasattr(obj, "__await__"):
        await asyncio.wait_for(obj, 10)


class InProcessProducer(ProducerMachine):
    family = InProcess


class ThreadedProducer(ProducerMachine):
    family = Threaded


class ProcessProducer(ProducerMachine):
    family = InChildProcess


class ConsumerMachine(RuleBasedStateMachine):
    """Model: the consumer reads one source at a time: its direct queue (``put_nowait``,
    which also ends a subscription and starts a fresh direct queue, as in RTCBot 0.2.5) or
    its own subscription to the producer last given to ``putSubscription``; after a switch
    nothing published to the old producer arrives. Giving it the producer it already reads
    changes nothing (RTCBot 0.2.5's no-op): what that producer published still arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.consumer = SubscriptionConsumer()
        self.producers = [SubscriptionProducer(), SubscriptionProducer()]
        self.direct: deque[int] = deque()
        self.fromProducer: deque[int] = deque()
        self.source: int | None = None  # None: the direct queue; else the producer's index
        self.closed = False

    @precondition(lambda self: not self.closed)
    @rule(item=ITEMS)
    def putDirectly(self, item: int) -> None:
        self.consumer.put_nowait(item)
        if self.source is not None:  # back to a fresh direct queue: what the old one held is gone
            self.source, self.fromProducer, self.direct = None, deque(), deque()
        self.direct.append(item)

    @precondition(lambda self: not self.closed)
    @rule(index=st.sampled_from([0, 1]))
    def switchTo(self, index: int) -> None:
        self.consumer.putSubscription(self.producers[index])
        if self.source != index:
            self.source, self.fromProducer = index, deque()

    @rule(index=st.sampled_from([0, 1]), item=ITEMS)
    def publish(self, index: int, item: int) -> None:
        self.producers[index].put_nowait(item)
        if self.source == index and not self.closed:
            self.fromProducer.append(item)

    @rule()
    def get(self) -> None:
        expected = self.fromProducer if self.source is not None else self.direct
        if self.closed:
            with pytest.raises(SubscriptionClosed):
                self.loop.run_until_complete(asyncio.wait_for(self.consumer.get(), 5))
        elif expected:
            assert self.loop.run_until_complete(asyncio.wait_for(self.consumer.get(), 5)) == expected.popleft()
        else:
            with pytest.raises(TimeoutError):
                self.loop.run_until_complete(asyncio.wait_for(self.consumer.get(), 0.01))

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        self.consumer.close()
        self.closed = True
        with pytest.raises(SubscriptionClosed):
            self.consumer.put_nowait(0)

    def teardown(self) -> None:
        for obj in (self.consumer, *self.producers):
            obj.close()
        asyncio.set_event_loop(None)
        self.loop.close()


TestInProcessProducer = SETTINGS(InProcessProducer).TestCase
TestThreadedProducer = SETTINGS(ThreadedProducer).TestCase
TestProcessProducer = SETTINGS(ProcessProducer).TestCase
TestConsumer = SETTINGS(ConsumerMachine).TestCase
