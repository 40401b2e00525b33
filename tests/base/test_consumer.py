"""BaseSubscriptionConsumer, SubscriptionConsumer, SubscriptionProducerConsumer and
NoClosedSubscription (behaviour.md §3.3, §3.4, §3.6, §3.7)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rtcbot import MostRecentSubscription
from rtcbot.base import (
    NoClosedSubscription,
    SubscriptionClosed,
    SubscriptionConsumer,
    SubscriptionProducer,
    SubscriptionProducerConsumer,
)


async def _started(coroutine: Any) -> asyncio.Task[Any]:
    """Runs ``coroutine`` as a task and lets it reach its first await."""
    task = asyncio.ensure_future(coroutine)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return task


async def _staysPending(task: asyncio.Task[Any], seconds: float = 0.05) -> bool:
    done, _ = await asyncio.wait([task], timeout=seconds)
    return not done


class CountingSource:
    """A source whose get() raises ``error`` every time and counts the calls."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls = 0

    async def get(self) -> Any:
        self.calls += 1
        raise self.error


# -- direct put -------------------------------------------------------------------------------


async def test_put_nowait_items_are_read_in_order() -> None:
    consumer = SubscriptionConsumer()
    consumer.put_nowait(1)
    consumer.put_nowait(2)
    assert [await consumer.get(), await consumer.get()] == [1, 2]
    assert consumer.subscription is None
    assert consumer.statistics().received == 2


async def test_a_pending_get_returns_the_next_put() -> None:
    consumer = SubscriptionConsumer()
    pending = await _started(consumer.get())
    consumer.put_nowait("x")
    assert await asyncio.wait_for(pending, 1) == "x"


def test_directPutSubscriptionType_chooses_the_direct_put_queue() -> None:
    consumer = SubscriptionConsumer(MostRecentSubscription)
    assert isinstance(consumer._directPutSubscription, MostRecentSubscription)


# -- caller cancellation (defect #1) ----------------------------------------------------------


async def test_wait_for_a_get_times_out() -> None:
    """Defect #1: RTCBot 0.2.5 swallowed the cancellation and never timed out."""
    consumer = SubscriptionConsumer()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(consumer.get(), 0.05)


async def test_cancelling_a_get_task_cancels_it_and_loses_no_item() -> None:
    consumer = SubscriptionConsumer()
    pending = await _started(consumer.get())
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    consumer.put_nowait("kept")
    assert await asyncio.wait_for(consumer.get(), 1) == "kept"


async def test_a_cancellation_during_a_switch_still_cancels_the_caller() -> None:
    consumer = SubscriptionConsumer()
    pending = await _started(consumer.get())
    consumer.putSubscription(asyncio.Queue())
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending


# -- switching sources ------------------------------------------------------------------------


async def test_putSubscription_reads_the_new_source_and_reports_it() -> None:
    consumer = SubscriptionConsumer()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    consumer.putSubscription(queue)
    assert consumer.subscription is queue
    queue.put_nowait("from queue")
    assert await consumer.get() == "from queue"


async def test_a_switch_is_invisible_to_a_pending_get() -> None:
    consumer = SubscriptionConsumer()
    first: asyncio.Queue[Any] = asyncio.Queue()
    second: asyncio.Queue[Any] = asyncio.Queue()
    consumer.putSubscription(first)
    pending = await _started(consumer.get())
    consumer.putSubscription(second)
    first.put_nowait("stale")
    second.put_nowait("fresh")
    assert await asyncio.wait_for(pending, 1) == "fresh"
    assert first.qsize() == 1, "the old source keeps its unread item"
    assert consumer.statistics().sourceSwitches == 2


async def test_putSubscription_of_the_active_source_changes_nothing() -> None:
    consumer = SubscriptionConsumer()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    consumer.putSubscription(queue)
    pending = await _started(consumer.get())
    consumer.putSubscription(queue)
    assert consumer.statistics().sourceSwitches == 1
    queue.put_nowait(5)
    assert await asyncio.wait_for(pending, 1) == 5


def test_putSubscription_of_something_without_get_is_refused() -> None:
    consumer = SubscriptionConsumer()
    with pytest.raises(TypeError, match="async get"):
        consumer.putSubscription(42)
    assert consumer.subscription is None


async def test_put_nowait_stops_the_active_subscription() -> None:
    consumer = SubscriptionConsumer()
    consumer.put_nowait("left behind")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    consumer.putSubscription(queue)
    pending = await _started(consumer.get())
    consumer.put_nowait("direct")
    assert await asyncio.wait_for(pending, 1) == "direct"
    assert consumer.subscription is None
    queue.put_nowait("ignored")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(consumer.get(), 0.05)


async def test_stopSubscription_waits_for_put_nowait() -> None:
    consumer = SubscriptionConsumer()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    consumer.putSubscription(queue)
    pending = await _started(consumer.get())
    consumer.stopSubscription()
    assert consumer.subscription is None
    queue.put_nowait("not read")
    assert await _staysPending(pending)
    consumer.put_nowait("read")
    assert await asyncio.wait_for(pending, 1) == "read"


# -- failing sources (defect #2) --------------------------------------------------------------


async def test_a_source_that_keeps_raising_SubscriptionClosed_is_not_spun_on() -> None:
    """Defect #2: RTCBot 0.2.5 retried ~26,000 times in 0.2 s."""
    consumer = SubscriptionConsumer()
    source = CountingSource(SubscriptionClosed("gone"))
    consumer.putSubscription(source)
    pending = await _started(consumer.get())
    assert await _staysPending(pending, 0.2)
    assert source.calls == 1
    consumer.put_nowait("new source works")
    assert await asyncio.wait_for(pending, 1) == "new source works"


async def test_a_closed_upstream_behind_NoClosedSubscription_is_waited_on_not_spun_on() -> None:
    """Defect #2 (§3.4): RTCBot 0.2.5 retried the closed upstream in a tight loop."""
    upstream = SubscriptionConsumer()
    calls = 0

    async def readUpstream() -> Any:
        nonlocal calls
        calls += 1
        return await upstream.get()

    downstream = SubscriptionConsumer()
    downstream.putSubscription(NoClosedSubscription(readUpstream))
    upstream.put_nowait("through")
    assert await asyncio.wait_for(downstream.get(), 1) == "through"
    pending = await _started(downstream.get())
    upstream.close()
    assert await _staysPending(pending, 0.2)
    assert calls == 2
    assert not downstream.closed
    downstream.close()
    with pytest.raises(SubscriptionClosed):
        await pending


async def test_a_source_raising_other_errors_is_retried_with_back_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = SubscriptionConsumer()
    source = CountingSource(OSError("flaky"))
    consumer.putSubscription(source)
    with caplog.at_level(logging.ERROR, logger="rtcbot"):
        pending = await _started(consumer.get())
        assert await _staysPending(pending, 0.3)
    assert 3 <= source.calls <= 8, source.calls
    assert "flaky" in caplog.text
    assert consumer.statistics().sourceErrors == source.calls
    consumer.put_nowait("recovered")
    assert await asyncio.wait_for(pending, 1) == "recovered"


async def test_NoClosedSubscription_passes_results_and_turns_closure_into_cancellation() -> None:
    upstream = SubscriptionConsumer()
    wrapper = NoClosedSubscription(upstream.get)
    upstream.put_nowait(3)
    assert await wrapper.get() == 3
    upstream.close()
    with pytest.raises(asyncio.CancelledError):
        await wrapper.get()


def test_NoClosedSubscription_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="coroutine function"):
        NoClosedSubscription(42)  # type: ignore[arg-type]


# -- reading a producer ------------------------------------------------------------------------


async def test_two_consumers_of_one_producer_each_get_every_item() -> None:
    """RTCBot 0.2.5 split the items between them (both read the producer's default queue)."""
    producer = SubscriptionProducer()
    first, second = SubscriptionConsumer(), SubscriptionConsumer()
    first.putSubscription(producer)
    second.putSubscription(producer)
    assert first.subscription is producer
    for item in range(3):
        producer.put_nowait(item)
    assert [await first.get() for _ in range(3)] == [0, 1, 2]
    assert [await second.get() for _ in range(3)] == [0, 1, 2]


def test_switching_away_from_a_producer_unsubscribes_from_it() -> None:
    """Defect #26: RTCBot 0.2.5 left the old subscription filling forever."""
    producer = SubscriptionProducer()
    consumer = SubscriptionConsumer()
    consumer.putSubscription(producer)
    assert producer.statistics().subscribers == 1
    consumer.putSubscription(asyncio.Queue())
    assert producer.statistics().subscribers == 0
    consumer.putSubscription(producer)
    consumer.close()
    assert producer.statistics().subscribers == 0


async def test_a_consumer_reads_what_a_producer_published_before_closing_then_waits() -> None:
    producer = SubscriptionProducer()
    consumer = SubscriptionConsumer()
    consumer.putSubscription(producer)
    producer.put_nowait("last")
    producer.close()
    assert await asyncio.wait_for(consumer.get(), 1) == "last"
    pending = await _started(consumer.get())
    assert await _staysPending(pending)
    assert not consumer.closed
    replacement = SubscriptionProducer()
    consumer.putSubscription(replacement)
    replacement.put_nowait("replacement")
    assert await asyncio.wait_for(pending, 1) == "replacement"


async def test_putSubscription_of_an_already_closed_producer_waits_for_a_new_source() -> None:
    producer = SubscriptionProducer()
    producer.close()
    consumer = SubscriptionConsumer()
    consumer.putSubscription(producer)
    pending = await _started(consumer.get())
    assert await _staysPending(pending)
    consumer.put_nowait(1)
    assert await asyncio.wait_for(pending, 1) == 1


async def test_a_producer_can_feed_a_consumer_as_a_sink() -> None:
    producer = SubscriptionProducer()
    consumer = SubscriptionConsumer()
    producer.subscribe(consumer)
    producer.put_nowait("pushed")
    assert await asyncio.wait_for(consumer.get(), 1) == "pushed"


# -- close ------------------------------------------------------------------------------------


async def test_close_ends_a_pending_get_and_later_gets() -> None:
    consumer = SubscriptionConsumer()
    pending = await _started(consumer.get())
    closes: list[int] = []
    consumer.onClose(lambda: closes.append(1))
    consumer.close()
    consumer.close()
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(pending, 1)
    with pytest.raises(SubscriptionClosed):
        await consumer.get()
    assert consumer.closed and closes == [1]


def test_put_nowait_and_putSubscription_after_close_raise() -> None:
    consumer = SubscriptionConsumer()
    consumer.close()
    with pytest.raises(SubscriptionClosed, match="closed"):
        consumer.put_nowait(1)
    with pytest.raises(SubscriptionClosed, match="closed"):
        consumer.putSubscription(asyncio.Queue())


def test_a_base_consumer_is_ready_at_once_unless_asked_not_to_be() -> None:
    assert SubscriptionConsumer().ready
    assert not SubscriptionConsumer(ready=False).ready


# -- producer and consumer in one ---------------------------------------------------------------


class Doubler(SubscriptionProducerConsumer):
    async def step(self) -> None:
        self._put_nowait(2 * await self._get())


async def test_a_producer_consumer_reads_input_and_publishes_output() -> None:
    doubler = Doubler()
    output = doubler.subscribe()
    doubler.put_nowait(21)
    await doubler.step()
    assert await output.get() == 42
    doubler.put_nowait(5)
    pending = await _started(doubler.get())
    await doubler.step()
    assert await asyncio.wait_for(pending, 1) == 10
    stats = doubler.statistics()
    assert (stats.received, stats.published, stats.subscribers) == (2, 2, 2)


@pytest.mark.parametrize("keyword", ["defaultSubscriptionClass", "defaultSubscriptionType"])
def test_a_producer_consumer_accepts_both_spellings(keyword: str) -> None:
    both = SubscriptionProducerConsumer(**{keyword: MostRecentSubscription})
    assert isinstance(both.subscribe(), MostRecentSubscription)


async def test_closing_a_producer_consumer_ends_both_sides() -> None:
    doubler = Doubler()
    output = await _started(doubler.get())
    step = await _started(doubler.step())
    doubler.close()
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(output, 1)
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(step, 1)
    with pytest.raises(SubscriptionClosed):
        doubler.put_nowait(1)
    assert doubler.closed


async def test_private_close_of_a_producer_consumer_closes_it() -> None:
    doubler = Doubler()
    doubler._close()
    assert doubler.closed
