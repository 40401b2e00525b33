"""BaseSubscriptionProducer and SubscriptionProducer (behaviour.md §3.5, §3.7)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rtcbot import MostRecentSubscription, SubscriptionClosed, SubscriptionConsumer
from rtcbot.base import BaseSubscriptionProducer, SubscriptionProducer


async def test_subscribe_without_argument_returns_a_new_default_subscription_each_time() -> None:
    producer = SubscriptionProducer()
    first, second = producer.subscribe(), producer.subscribe()
    assert isinstance(first, asyncio.Queue) and isinstance(second, asyncio.Queue)
    assert first is not second
    producer.put_nowait("frame")
    assert await first.get() == await second.get() == "frame"


@pytest.mark.parametrize("keyword", ["defaultSubscriptionClass", "defaultSubscriptionType"])
def test_both_spellings_of_the_default_subscription_argument_work(keyword: str) -> None:
    producer = SubscriptionProducer(**{keyword: MostRecentSubscription})
    assert isinstance(producer.subscribe(), MostRecentSubscription)


def test_conflicting_spellings_of_the_default_subscription_are_refused() -> None:
    with pytest.raises(TypeError, match="two spellings"):
        SubscriptionProducer(defaultSubscriptionClass=asyncio.Queue, defaultSubscriptionType=MostRecentSubscription)


def test_positional_default_subscription_class_is_accepted() -> None:
    producer = SubscriptionProducer(MostRecentSubscription)
    assert isinstance(producer.subscribe(), MostRecentSubscription)


def test_a_base_producer_is_ready_at_once_unless_asked_not_to_be() -> None:
    assert SubscriptionProducer().ready
    assert not SubscriptionProducer(ready=False).ready


def test_subscribe_returns_what_it_was_given() -> None:
    producer = SubscriptionProducer()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    assert producer.subscribe(queue) is queue

    @producer.subscribe
    def onItem(item: Any) -> None:
        pass

    @producer.subscribe
    async def onItemAsync(item: Any) -> None:
        pass

    assert onItem.__name__ == "onItem" and onItemAsync.__name__ == "onItemAsync"


async def test_callbacks_run_synchronously_and_coroutines_as_tasks() -> None:
    producer = SubscriptionProducer()
    syncSeen: list[Any] = []
    asyncSeen: asyncio.Queue[Any] = asyncio.Queue()

    async def onItemAsync(item: Any) -> None:
        await asyncSeen.put(item)

    producer.subscribe(syncSeen.append)
    producer.subscribe(onItemAsync)
    producer.put_nowait(1)
    assert syncSeen == [1], "a plain callback runs inside put_nowait"
    assert asyncSeen.empty(), "a coroutine callback runs later, as a task"
    assert await asyncio.wait_for(asyncSeen.get(), 1) == 1


def test_subscribing_the_same_sink_twice_delivers_once() -> None:
    producer = SubscriptionProducer()
    seen: list[Any] = []
    producer.subscribe(seen.append)
    producer.subscribe(seen.append)
    producer.put_nowait("x")
    assert seen == ["x"]


def test_listeners_of_every_kind_are_called_in_registration_order() -> None:
    """Defect #7: RTCBot 0.2.5 called sinks first, then callbacks, in set order."""
    producer = SubscriptionProducer()
    order: list[str] = []

    class Sink:
        def __init__(self, name: str) -> None:
            self.name = name

        def put_nowait(self, item: Any) -> None:
            order.append(self.name)

    producer.subscribe(lambda item: order.append("callback-1"))
    producer.subscribe(Sink("sink-1"))
    producer.subscribe(lambda item: order.append("callback-2"))
    producer.subscribe(Sink("sink-2"))
    producer.put_nowait(None)
    assert order == ["callback-1", "sink-1", "callback-2", "sink-2"]


def test_subscribing_something_unusable_fails_at_once_with_a_clear_message() -> None:
    """Defect #15: RTCBot 0.2.5 accepted subscribe(42) and failed at the next publish."""
    producer = SubscriptionProducer()
    with pytest.raises(TypeError, match=r"put_nowait\(\).*got 42 \(type int\)"):
        producer.subscribe(42)
    assert producer.statistics().subscribers == 0


def test_unhashable_sinks_are_accepted() -> None:
    class UnhashableSink(list[Any]):
        def put_nowait(self, item: Any) -> None:
            self.append(item)

    producer = SubscriptionProducer()
    sink = producer.subscribe(UnhashableSink())
    producer.put_nowait(3)
    assert sink == [3]
    producer.unsubscribe(sink)
    producer.put_nowait(4)
    assert sink == [3]


def test_a_failing_subscriber_does_not_starve_the_others(caplog: pytest.LogCaptureFixture) -> None:
    """Defect #7: in RTCBot 0.2.5 one raising listener made the rest miss the item."""
    producer = SubscriptionProducer()
    full: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
    full.put_nowait("old")
    after: list[Any] = []

    def broken(item: Any) -> None:
        raise ValueError("subscriber bug")

    producer.subscribe(full)
    producer.subscribe(broken)
    producer.subscribe(after.append)
    with caplog.at_level(logging.ERROR, logger="rtcbot"):
        producer.put_nowait("new")
    assert after == ["new"]
    assert "QueueFull" in caplog.text and "subscriber bug" in caplog.text
    assert producer.statistics().listenerErrors == 2


def test_a_repeating_failure_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    producer = SubscriptionProducer()

    def broken(item: Any) -> None:
        raise ValueError("every time")

    producer.subscribe(broken)
    with caplog.at_level(logging.ERROR, logger="rtcbot"):
        for index in range(100):
            producer.put_nowait(index)
    assert len([r for r in caplog.records if "every time" in r.getMessage()]) == 1


def test_a_listener_may_unsubscribe_itself_during_delivery() -> None:
    """Defect #7: RTCBot 0.2.5 raised 'Set changed size during iteration'."""
    producer = SubscriptionProducer()
    seen: list[str] = []

    def once(item: Any) -> None:
        seen.append(f"once:{item}")
        producer.unsubscribe(once)

    producer.subscribe(once)
    producer.subscribe(lambda item: seen.append(f"always:{item}"))
    producer.put_nowait(1)
    producer.put_nowait(2)
    assert seen == ["once:1", "always:1", "always:2"]


def test_a_listener_removed_by_an_earlier_one_is_not_called() -> None:
    producer = SubscriptionProducer()
    seen: list[str] = []

    def second(item: Any) -> None:
        seen.append("second")

    producer.subscribe(lambda item: producer.unsubscribe(second))
    producer.subscribe(second)
    producer.put_nowait(None)
    assert seen == []


def test_unsubscribe_removes_a_subscription() -> None:
    producer = SubscriptionProducer()
    queue = producer.subscribe()
    producer.unsubscribe(queue)
    producer.put_nowait(1)
    assert queue.empty()


def test_unsubscribing_a_bound_method_works_with_a_fresh_bound_method_object() -> None:
    class Receiver:
        def __init__(self) -> None:
            self.items: list[Any] = []

        def onItem(self, item: Any) -> None:
            self.items.append(item)

    receiver = Receiver()
    producer = SubscriptionProducer()
    producer.subscribe(receiver.onItem)
    producer.unsubscribe(receiver.onItem)
    producer.put_nowait(1)
    assert receiver.items == []


def test_unsubscribing_something_never_subscribed_raises_KeyError() -> None:
    producer = SubscriptionProducer()
    with pytest.raises(KeyError, match="not subscribed"):
        producer.unsubscribe(asyncio.Queue())


def test_unsubscribe_without_argument_is_a_no_op_when_there_is_no_default() -> None:
    producer = SubscriptionProducer()
    producer.unsubscribe()
    producer.unsubscribe()


async def test_get_creates_the_default_subscription_on_first_use_and_reuses_it() -> None:
    producer = SubscriptionProducer()
    producer.put_nowait("before anyone listened")
    pending = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)
    producer.put_nowait(1)
    producer.put_nowait(2)
    assert await pending == 1
    assert await producer.get() == 2
    assert producer.statistics().subscribers == 1


async def test_defaultAutosubscribe_keeps_items_published_before_the_first_get() -> None:
    producer = SubscriptionProducer(defaultAutosubscribe=True)
    producer.put_nowait("early")
    assert await asyncio.wait_for(producer.get(), 1) == "early"


async def test_unsubscribe_without_argument_drops_the_default_and_get_starts_afresh() -> None:
    producer = SubscriptionProducer(defaultAutosubscribe=True)
    producer.put_nowait("old")
    producer.unsubscribe()
    producer.unsubscribe()
    pending = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)
    producer.put_nowait("new")
    assert await asyncio.wait_for(pending, 1) == "new"


async def test_unsubscribing_the_default_subscription_by_object_makes_get_start_afresh() -> None:
    """RTCBot 0.2.5 kept reading the removed default subscription and hung."""
    producer = SubscriptionProducer(defaultAutosubscribe=True)
    producer.unsubscribe(producer._defaultSubscription)
    pending = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)
    producer.put_nowait("new")
    assert await asyncio.wait_for(pending, 1) == "new"


async def test_concurrent_get_callers_share_the_default_queue() -> None:
    producer = SubscriptionProducer()
    first = asyncio.ensure_future(producer.get())
    second = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)
    producer.put_nowait("a")
    producer.put_nowait("b")
    assert sorted(await asyncio.gather(first, second)) == ["a", "b"]


def test_unsubscribeAll_removes_every_subscription_and_the_default() -> None:
    producer = SubscriptionProducer(defaultAutosubscribe=True)
    seen: list[Any] = []
    queue = producer.subscribe()
    producer.subscribe(seen.append)
    producer.unsubscribeAll()
    producer.put_nowait(1)
    assert queue.empty() and seen == []
    assert producer._defaultSubscription is None
    assert producer.statistics().subscribers == 0


async def test_a_get_pending_at_close_raises_SubscriptionClosed() -> None:
    """Defect #6: in RTCBot 0.2.5 it never completed."""
    producer = SubscriptionProducer()
    pending = asyncio.ensure_future(producer.get())
    await asyncio.sleep(0)
    producer.close()
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(pending, 1)


async def test_get_after_close_returns_what_was_published_then_raises() -> None:
    """Defect #6: in RTCBot 0.2.5 get() after close hung; data published before close was lost."""
    producer = SubscriptionProducer(defaultAutosubscribe=True)
    producer.put_nowait("last words")
    producer.close()
    assert await asyncio.wait_for(producer.get(), 1) == "last words"
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(producer.get(), 1)


async def test_get_after_close_without_a_default_subscription_raises() -> None:
    producer = SubscriptionProducer()
    producer.close()
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(producer.get(), 1)


def test_close_removes_subscriptions_fires_onClose_and_is_idempotent() -> None:
    producer = SubscriptionProducer()
    seen: list[Any] = []
    closes: list[int] = []
    producer.subscribe(seen.append)
    producer.onClose(lambda: closes.append(1))
    producer.close()
    producer.close()
    producer.put_nowait("after close")
    assert producer._shouldClose and producer.closed and not producer.ready
    assert seen == [] and closes == [1]


def test_subscribing_to_a_closed_producer_raises() -> None:
    producer = SubscriptionProducer()
    producer.close()
    with pytest.raises(SubscriptionClosed, match="closed"):
        producer.subscribe()


def test_unsubscribing_after_close_is_harmless() -> None:
    producer = SubscriptionProducer()
    queue = producer.subscribe()
    producer.close()
    producer.unsubscribe(queue)
    producer.unsubscribe()


def test_private_close_closes_too() -> None:
    producer = SubscriptionProducer()
    producer._close()
    assert producer.closed


def test_a_closed_consumer_subscribed_as_a_sink_is_dropped() -> None:
    producer = SubscriptionProducer()
    consumer = SubscriptionConsumer()
    producer.subscribe(consumer)
    consumer.close()
    producer.put_nowait(1)
    assert producer.statistics().subscribers == 0


def test_statistics_count_published_items_and_subscribers() -> None:
    producer = SubscriptionProducer()
    producer.subscribe(lambda item: None)
    for index in range(3):
        producer.put_nowait(index)
    stats = producer.statistics()
    assert (stats.published, stats.subscribers, stats.listenerErrors) == (3, 1, 0)


def test_subclasses_publish_with_the_private_put_nowait() -> None:
    class Counter(BaseSubscriptionProducer):
        def tick(self, value: int) -> None:
            self._put_nowait(value)

    counter = Counter()
    seen: list[int] = []
    counter.subscribe(seen.append)
    counter.tick(7)
    assert seen == [7]
    assert not hasattr(counter, "put_nowait")
