"""Tests of the ready-made subscriptions in ``rtcbot.subscriptions`` (spec §3.13 + fixes)."""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcbot import (
    CallbackSubscription,
    DelayedSubscription,
    EventSubscription,
    GetterSubscription,
    MostRecentSubscription,
    RebatchSubscription,
    SubscriptionClosed,
)
from rtcbot.base.base import SubscriptionProducer

PENDING = 0.05


async def assertPending(awaitable: Any) -> None:
    """``awaitable`` does not finish within a short time (it is cancelled afterwards)."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(awaitable, PENDING)


async def within(awaitable: Any, seconds: float = 2.0) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


class Frame:
    """A small object that supports weak references."""

    def __init__(self, value: int) -> None:
        self.value = value


# --------------------------------------------------------------------------------------
# EventSubscription
# --------------------------------------------------------------------------------------


async def test_event_get_waits_for_the_first_put() -> None:
    sub = EventSubscription()
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    assert not getter.done()
    sub.put_nowait("first")
    assert await within(getter) == "first"


async def test_event_subscription_is_awaitable_directly() -> None:
    """The original awaited a bare asyncio.Event and raised TypeError."""
    sub = EventSubscription()
    waiter = asyncio.ensure_future(sub)
    await asyncio.sleep(0)
    assert not waiter.done()
    sub.put_nowait(42)
    assert await within(waiter) == 42
    assert await sub == 42


async def test_event_get_stays_pending_without_put() -> None:
    sub = EventSubscription()
    await assertPending(sub.get())
    await assertPending(sub)


async def test_event_is_a_latch_returning_the_latest_value_immediately() -> None:
    sub = EventSubscription()
    sub.put_nowait(1)
    assert await sub.get() == 1
    assert await sub.get() == 1  # does not wait for a new put
    assert await sub == 1
    sub.put_nowait(2)
    sub.put_nowait(3)
    assert await sub.get() == 3
    assert await sub == 3


async def test_event_latch_get_does_not_suspend_after_first_put() -> None:
    sub = EventSubscription()
    sub.put_nowait("x")
    coro = sub.get()
    # A latch that is set answers without yielding to the loop.
    with pytest.raises(StopIteration) as stop:
        coro.send(None)
    assert stop.value.value == "x"


async def test_event_none_is_a_valid_value() -> None:
    sub = EventSubscription()
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait(None)
    assert await within(getter) is None
    assert await sub is None


async def test_event_wakes_every_waiter() -> None:
    sub = EventSubscription()
    waiters = [asyncio.create_task(sub.get()) for _ in range(3)] + [asyncio.ensure_future(sub)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    sub.put_nowait("go")
    assert await within(asyncio.gather(*waiters)) == ["go"] * 4


def test_event_can_be_created_outside_a_loop_and_used_inside_one() -> None:
    sub = EventSubscription()

    async def main() -> Any:
        sub.put_nowait("v")
        return await sub

    assert asyncio.run(main()) == "v"


# --------------------------------------------------------------------------------------
# MostRecentSubscription
# --------------------------------------------------------------------------------------


async def test_most_recent_skips_older_unread_items_and_then_waits() -> None:
    sub = MostRecentSubscription()
    sub.put_nowait(1)
    sub.put_nowait(2)
    assert await sub.get() == 2
    await assertPending(sub.get())
    sub.put_nowait(3)
    assert await sub.get() == 3


async def test_most_recent_get_waits_for_a_put() -> None:
    sub = MostRecentSubscription()
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    assert not getter.done()
    sub.put_nowait("frame")
    assert await within(getter) == "frame"
    await assertPending(sub.get())


async def test_most_recent_none_is_a_valid_item() -> None:
    sub = MostRecentSubscription()
    sub.put_nowait(None)
    assert await within(sub.get()) is None
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait(None)
    assert await within(getter) is None
    await assertPending(sub.get())


async def test_most_recent_get_nowait() -> None:
    sub = MostRecentSubscription()
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()
    sub.put_nowait("a")
    sub.put_nowait("b")
    assert sub.get_nowait() == "b"
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()
    sub.put_nowait(None)
    assert sub.get_nowait() is None
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_most_recent_get_nowait_after_get_raises_queue_empty() -> None:
    sub = MostRecentSubscription()
    sub.put_nowait(7)
    assert await sub.get() == 7
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_most_recent_item_given_to_a_waiter_is_not_read_again() -> None:
    sub = MostRecentSubscription()
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait("once")
    assert await within(getter) == "once"
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_most_recent_concurrent_getters_all_get_the_same_item() -> None:
    sub = MostRecentSubscription()
    item = Frame(1)
    getters = [asyncio.create_task(sub.get()) for _ in range(4)]
    await asyncio.sleep(0)
    assert not any(g.done() for g in getters)
    sub.put_nowait(item)
    results = await within(asyncio.gather(*getters))
    assert all(result is item for result in results)
    # It was read: nothing new until the next put.
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()
    await assertPending(sub.get())


async def test_most_recent_releases_an_item_read_from_pending() -> None:
    """The original kept a reference to the last item forever."""
    sub = MostRecentSubscription()
    frame = Frame(1)
    ref = weakref.ref(frame)
    sub.put_nowait(frame)
    del frame
    assert ref() is not None  # held until read
    got = await sub.get()
    assert got is ref()
    del got
    assert ref() is None


async def test_most_recent_releases_an_item_delivered_to_a_waiter() -> None:
    sub = MostRecentSubscription()
    array = np.zeros((4, 4, 3), dtype=np.uint8)
    ref = weakref.ref(array)
    asyncio.get_running_loop().call_soon(sub.put_nowait, array)  # arrives while we wait
    del array
    # Awaited in this task, not in a helper task (wait_for makes one): newer Pythons keep a
    # finished task, and so its result, referenced for a while. The harness has a timeout.
    got = await sub.get()
    assert got is ref()
    del got
    assert ref() is None  # by reference counting alone: nothing else holds it


async def test_most_recent_releases_an_overwritten_unread_item() -> None:
    sub = MostRecentSubscription()
    old = Frame(1)
    ref = weakref.ref(old)
    sub.put_nowait(old)
    del old
    sub.put_nowait(Frame(2))
    assert ref() is None
    assert sub.get_nowait().value == 2


async def test_most_recent_item_arriving_while_the_getter_is_cancelled_is_kept() -> None:
    sub = MostRecentSubscription()
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait("precious")
    getter.cancel()  # same loop step: the waiter already holds the item
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert await within(sub.get()) == "precious"
    await assertPending(sub.get())


async def test_most_recent_cancelled_getter_leaves_no_stale_waiter() -> None:
    sub = MostRecentSubscription()
    await assertPending(sub.get())  # cancelled by wait_for
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait("next")
    assert await within(getter) == "next"
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_most_recent_newer_item_wins_over_one_kept_from_a_cancelled_getter() -> None:
    sub = MostRecentSubscription()
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait("old")
    getter.cancel()
    sub.put_nowait("new")
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert sub.get_nowait() == "new"
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_most_recent_cancelled_getter_does_not_resurrect_an_item_another_getter_read() -> None:
    sub = MostRecentSubscription()
    cancelled = asyncio.create_task(sub.get())
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.put_nowait("x")
    cancelled.cancel()
    assert await within(reader) == "x"
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_most_recent_item_is_kept_when_every_waiting_getter_is_cancelled() -> None:
    sub = MostRecentSubscription()
    getters = [asyncio.create_task(sub.get()) for _ in range(2)]
    await asyncio.sleep(0)
    sub.put_nowait("unread")
    for getter in getters:
        getter.cancel()  # same loop step: nobody gets to read the item
    for getter in getters:
        with pytest.raises(asyncio.CancelledError):
            await getter
    assert sub.get_nowait() == "unread"
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


# --------------------------------------------------------------------------------------
# GetterSubscription
# --------------------------------------------------------------------------------------


async def test_getter_awaits_the_coroutine_function_on_every_get() -> None:
    calls = 0

    async def produce() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return calls * 10

    sub = GetterSubscription(produce)
    assert calls == 0
    assert await sub.get() == 10
    assert await sub.get() == 20
    assert await sub.get() == 30
    assert calls == 3


async def test_getter_waits_as_long_as_the_callback_does() -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    sub = GetterSubscription(queue.get)
    await assertPending(sub.get())
    queue.put_nowait("late")
    assert await within(sub.get()) == "late"


async def test_getter_propagates_callback_exceptions() -> None:
    async def fails() -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await GetterSubscription(fails).get()


async def test_getter_accepts_a_sync_function_returning_an_awaitable() -> None:
    async def value() -> str:
        return "ok"

    sub = GetterSubscription(lambda: value())
    assert await sub.get() == "ok"


async def test_getter_sync_callback_returning_a_plain_value_is_a_clear_type_error() -> None:
    sub = GetterSubscription(lambda: 5)
    with pytest.raises(TypeError, match=r"not an awaitable.*async function"):
        await sub.get()


@pytest.mark.parametrize("notCallable", [None, 3, "get", object()])
def test_getter_rejects_a_non_callable_at_construction(notCallable: Any) -> None:
    with pytest.raises(TypeError, match="GetterSubscription"):
        GetterSubscription(notCallable)


# --------------------------------------------------------------------------------------
# CallbackSubscription
# --------------------------------------------------------------------------------------


async def test_callback_run_direct_calls_synchronously_inside_put_nowait() -> None:
    received: list[Any] = []
    sub = CallbackSubscription(received.append, runDirect=True)
    sub.put_nowait(1)
    assert received == [1]
    sub.put_nowait(None)
    assert received == [1, None]


def test_callback_run_direct_works_without_an_event_loop() -> None:
    received: list[Any] = []
    sub = CallbackSubscription(received.append, runDirect=True)
    sub.put_nowait("no loop")
    assert received == ["no loop"]


async def test_callback_default_runs_on_the_next_loop_iteration() -> None:
    received: list[Any] = []
    sub = CallbackSubscription(received.append)
    sub.put_nowait(1)
    sub.put_nowait(2)
    assert received == []
    await asyncio.sleep(0)
    assert received == [1, 2]


async def test_callback_default_with_explicit_running_loop() -> None:
    received: list[Any] = []
    sub = CallbackSubscription(received.append, loop=asyncio.get_running_loop())
    sub.put_nowait("a")
    assert received == []
    await asyncio.sleep(0)
    assert received == ["a"]


async def test_callback_coroutine_function_runs_in_default_mode() -> None:
    """The original called it without awaiting: the coroutine was silently dropped."""
    received: list[Any] = []
    done = asyncio.Event()

    async def callback(item: Any) -> None:
        await asyncio.sleep(0)
        received.append(item)
        if len(received) == 2:
            done.set()

    sub = CallbackSubscription(callback)
    sub.put_nowait("x")
    sub.put_nowait("y")
    assert received == []
    await within(done.wait())
    assert received == ["x", "y"]


async def test_callback_coroutine_function_runs_with_run_direct() -> None:
    received: list[Any] = []
    done = asyncio.Event()

    async def callback(item: Any) -> None:
        received.append(item)
        done.set()

    sub = CallbackSubscription(callback, runDirect=True)
    sub.put_nowait("direct")
    await within(done.wait())
    assert received == ["direct"]


async def test_callback_async_callable_object_and_partial_run() -> None:
    received: list[Any] = []
    finished = asyncio.Event()

    class AsyncCallable:
        async def __call__(self, item: Any) -> None:
            received.append(("object", item))
            if len(received) == 2:
                finished.set()

    async def tagged(tag: str, item: Any) -> None:
        received.append((tag, item))
        if len(received) == 2:
            finished.set()

    CallbackSubscription(AsyncCallable()).put_nowait(1)
    CallbackSubscription(functools.partial(tagged, "partial")).put_nowait(2)
    await within(finished.wait())
    assert sorted(received) == [("object", 1), ("partial", 2)]


async def test_callback_from_another_thread_runs_in_the_loop_thread() -> None:
    loop = asyncio.get_running_loop()
    loopThread = threading.get_ident()
    calls: list[tuple[Any, int]] = []
    called = asyncio.Event()

    def callback(item: Any) -> None:
        calls.append((item, threading.get_ident()))
        called.set()

    sub = CallbackSubscription(callback, loop=loop)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            sub.put_nowait("from thread")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        await within(called.wait())
    finally:
        thread.join()
    assert errors == []
    assert calls == [("from thread", loopThread)]
    assert thread.ident != loopThread


async def test_callback_coroutine_from_another_thread_runs_in_the_loop() -> None:
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    called = asyncio.Event()

    async def callback(item: Any) -> None:
        seen.append((item, asyncio.get_running_loop() is loop))
        called.set()

    sub = CallbackSubscription(callback, loop=loop)
    thread = threading.Thread(target=sub.put_nowait, args=("async from thread",))
    thread.start()
    try:
        await within(called.wait())
    finally:
        thread.join()
    assert seen == [("async from thread", True)]


def test_callback_with_explicit_loop_can_be_fed_outside_a_running_loop() -> None:
    received: list[Any] = []
    loop = asyncio.new_event_loop()
    try:
        sub = CallbackSubscription(received.append, loop=loop)
        sub.put_nowait("queued")
        assert received == []
        loop.run_until_complete(asyncio.sleep(0))
        assert received == ["queued"]
    finally:
        loop.close()


def test_callback_put_nowait_outside_a_loop_without_loop_is_a_clear_runtime_error() -> None:
    received: list[Any] = []
    sub = CallbackSubscription(received.append)
    with pytest.raises(RuntimeError, match=r"outside a running event loop.*loop=.*runDirect"):
        sub.put_nowait(1)
    assert received == []


@pytest.mark.parametrize("notCallable", [None, 1, "print", object()])
def test_callback_rejects_a_non_callable(notCallable: Any) -> None:
    with pytest.raises(TypeError, match="CallbackSubscription"):
        CallbackSubscription(notCallable)


async def test_callback_subscription_works_as_a_producer_subscriber() -> None:
    producer = SubscriptionProducer()
    received: list[Any] = []
    producer.subscribe(CallbackSubscription(received.append))
    producer.put_nowait("p")
    assert received == []
    await asyncio.sleep(0)
    assert received == ["p"]
    producer.close()


# --------------------------------------------------------------------------------------
# DelayedSubscription
# --------------------------------------------------------------------------------------


async def test_delayed_subscribes_lazily_on_first_get() -> None:
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    assert producer.statistics().subscribers == 0
    assert delayed.subscription is None
    producer.put_nowait("before")  # nobody subscribed yet: lost
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert producer.statistics().subscribers == 1
    assert len(producer._subscribers) == 1
    assert isinstance(delayed.subscription, asyncio.Queue)  # the producer's default type
    producer.put_nowait("after")
    assert await within(getter) == "after"
    producer.put_nowait("again")
    assert await within(delayed.get()) == "again"
    assert producer.statistics().subscribers == 1  # still one registration
    producer.close()


async def test_delayed_uses_the_producers_default_subscription_type() -> None:
    producer = SubscriptionProducer(defaultSubscriptionClass=MostRecentSubscription)
    delayed = DelayedSubscription(producer)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert isinstance(delayed.subscription, MostRecentSubscription)
    producer.put_nowait(1)
    producer.put_nowait(2)
    assert await within(getter) == 1  # the getter was already waiting for the first one
    producer.put_nowait(3)
    producer.put_nowait(4)
    assert await within(delayed.get()) == 4
    producer.close()


async def test_delayed_with_explicit_subscription_subscribes_that_object() -> None:
    producer = SubscriptionProducer()
    mine = MostRecentSubscription()
    delayed = DelayedSubscription(producer, mine)
    assert producer.statistics().subscribers == 0
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert delayed.subscription is mine
    assert producer.statistics().subscribers == 1
    assert producer.statistics().subscribers == 1
    producer.put_nowait("a")
    assert await within(getter) == "a"
    producer.put_nowait("b")
    producer.put_nowait("c")
    assert await within(delayed.get()) == "c"
    producer.close()


async def test_delayed_unsubscribe_before_any_get_is_a_no_op() -> None:
    """The original raised AttributeError (default) or KeyError (explicit subscription)."""
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    delayed.unsubscribe()
    delayed.unsubscribe()
    assert producer.statistics().subscribers == 0
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    producer.put_nowait(1)
    assert await within(getter) == 1
    producer.close()


async def test_delayed_unsubscribe_before_any_get_with_explicit_subscription() -> None:
    producer = SubscriptionProducer()
    mine: asyncio.Queue[Any] = asyncio.Queue()
    delayed = DelayedSubscription(producer, mine)
    delayed.unsubscribe()
    assert producer.statistics().subscribers == 0
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert delayed.subscription is mine
    producer.put_nowait("ok")
    assert await within(getter) == "ok"
    producer.close()


async def test_delayed_unsubscribe_removes_the_registration() -> None:
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    producer.put_nowait(1)
    assert await within(getter) == 1
    assert producer.statistics().subscribers == 1
    delayed.unsubscribe()
    assert producer.statistics().subscribers == 0
    assert delayed.subscription is None
    delayed.unsubscribe()  # twice is fine
    producer.close()


async def test_delayed_get_after_unsubscribe_subscribes_again() -> None:
    """The original hung forever here."""
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    producer.put_nowait(1)
    assert await within(getter) == 1
    first = delayed.subscription
    delayed.unsubscribe()
    producer.put_nowait("while unsubscribed")  # not delivered to us
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert producer.statistics().subscribers == 1
    assert delayed.subscription is not None and delayed.subscription is not first
    producer.put_nowait(2)
    assert await within(getter) == 2
    producer.close()


async def test_delayed_explicit_subscription_is_resubscribed_after_unsubscribe() -> None:
    producer = SubscriptionProducer()
    mine = MostRecentSubscription()
    delayed = DelayedSubscription(producer, mine)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    producer.put_nowait(1)
    assert await within(getter) == 1
    delayed.unsubscribe()
    assert producer.statistics().subscribers == 0
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert producer.statistics().subscribers == 1
    producer.put_nowait(2)
    assert await within(getter) == 2
    producer.close()


async def test_delayed_pending_get_raises_subscription_closed_when_the_producer_closes() -> None:
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert not getter.done()
    producer.close()
    with pytest.raises(SubscriptionClosed):
        await within(getter)


async def test_delayed_get_on_a_closed_producer_raises_subscription_closed() -> None:
    producer = SubscriptionProducer()
    producer.close()
    delayed = DelayedSubscription(producer)
    with pytest.raises(SubscriptionClosed):
        await within(delayed.get())
    delayed.unsubscribe()


async def test_delayed_unsubscribe_after_the_producer_closed_is_safe() -> None:
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    producer.close()
    with pytest.raises(SubscriptionClosed):
        await within(getter)
    delayed.unsubscribe()


async def test_delayed_unsubscribe_after_the_producer_dropped_the_subscription_is_safe() -> None:
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    producer.put_nowait(1)
    assert await within(getter) == 1
    producer.unsubscribeAll()  # the producer forgets our subscription behind our back
    delayed.unsubscribe()  # must not raise KeyError
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert producer.statistics().subscribers == 1
    producer.put_nowait(2)
    assert await within(getter) == 2
    producer.close()


async def test_delayed_pending_get_can_be_cancelled() -> None:
    producer = SubscriptionProducer()
    delayed = DelayedSubscription(producer)
    await assertPending(delayed.get())
    producer.put_nowait("still works")
    assert await within(delayed.get()) == "still works"
    producer.close()


async def test_delayed_works_with_a_duck_typed_producer() -> None:
    class Source:
        def __init__(self) -> None:
            self.subscribed: list[Any] = []
            self.unsubscribed: list[Any] = []

        def subscribe(self, subscription: Any = None) -> Any:
            sub = subscription if subscription is not None else asyncio.Queue()
            self.subscribed.append(sub)
            return sub

        def unsubscribe(self, subscription: Any) -> None:
            self.unsubscribed.append(subscription)

    source = Source()
    delayed = DelayedSubscription(source)
    assert source.subscribed == []
    getter = asyncio.create_task(delayed.get())
    await asyncio.sleep(0)
    assert len(source.subscribed) == 1
    source.subscribed[0].put_nowait("duck")
    assert await within(getter) == "duck"
    delayed.unsubscribe()
    assert source.unsubscribed == source.subscribed


@pytest.mark.parametrize("notAProducer", [None, 3, asyncio.Queue])
def test_delayed_rejects_something_that_is_not_a_producer(notAProducer: Any) -> None:
    with pytest.raises(TypeError, match="DelayedSubscription"):
        DelayedSubscription(notAProducer)


# --------------------------------------------------------------------------------------
# RebatchSubscription
# --------------------------------------------------------------------------------------


async def test_rebatch_exact_vectors_of_the_original() -> None:
    sub = RebatchSubscription(samples=1024, axis=1)
    sub.put_nowait(np.zeros((2, 960)))
    sub.put_nowait(np.ones((2, 960)))
    chunk = await within(sub.get())
    assert chunk.shape == (2, 1024)
    assert np.all(chunk[:, :960] == 0)
    assert np.all(chunk[:, 960:] == 1)

    sub.put_nowait(2 * np.ones((2, 128)))
    chunk = await within(sub.get())
    assert chunk.shape == (2, 1024)
    assert np.all(chunk[:, :896] == 1)
    assert np.all(chunk[:, 896:] == 2)

    sub.put_nowait(3 * np.ones((2, 2048)))
    first = await within(sub.get())
    second = await within(sub.get())
    for chunk in (first, second):
        assert chunk.shape == (2, 1024)
        assert np.all(chunk == 3)

    exact = np.random.default_rng(0).random((2, 1024))
    sub.put_nowait(exact)
    chunk = await within(sub.get())
    assert chunk.shape == (2, 1024)
    assert np.shares_memory(chunk, exact)
    np.testing.assert_array_equal(chunk, exact)
    await assertPending(sub.get())


async def test_rebatch_waits_until_a_full_chunk_is_buffered() -> None:
    sub = RebatchSubscription(samples=4)
    getter = asyncio.create_task(sub.get())
    sub.put_nowait(np.arange(3))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not getter.done()
    sub.put_nowait(np.arange(3, 6))
    np.testing.assert_array_equal(await within(getter), [0, 1, 2, 3])
    await assertPending(sub.get())
    sub.put_nowait(np.arange(6, 8))
    np.testing.assert_array_equal(await within(sub.get()), [4, 5, 6, 7])


async def test_rebatch_exact_input_after_a_remainder_is_not_returned_as_is() -> None:
    sub = RebatchSubscription(samples=4)
    sub.put_nowait(np.arange(2))
    exact = np.arange(10, 14)
    sub.put_nowait(exact)
    chunk = await within(sub.get())
    np.testing.assert_array_equal(chunk, [0, 1, 10, 11])
    sub.put_nowait(np.arange(20, 22))
    np.testing.assert_array_equal(await within(sub.get()), [12, 13, 20, 21])


async def test_rebatch_default_axis_is_zero() -> None:
    sub = RebatchSubscription(samples=3)
    sub.put_nowait(np.arange(4).reshape(2, 2))
    sub.put_nowait(np.arange(4, 8).reshape(2, 2))
    chunk = await within(sub.get())
    np.testing.assert_array_equal(chunk, [[0, 1], [2, 3], [4, 5]])


async def test_rebatch_axis_minus_one() -> None:
    sub = RebatchSubscription(samples=5, axis=-1)
    sub.put_nowait(np.arange(6).reshape(2, 3))
    sub.put_nowait(np.arange(6, 14).reshape(2, 4))
    chunk = await within(sub.get())
    assert chunk.shape == (2, 5)
    np.testing.assert_array_equal(chunk, [[0, 1, 2, 6, 7], [3, 4, 5, 10, 11]])
    await assertPending(sub.get())
    sub.put_nowait(np.arange(100, 106).reshape(2, 3))
    np.testing.assert_array_equal(await within(sub.get()), [[8, 9, 100, 101, 102], [12, 13, 103, 104, 105]])


@pytest.mark.loop_timeout(5)
async def test_rebatch_axis_minus_two_on_3d_arrays_finishes_with_correct_values() -> None:
    """The original froze the event loop in an infinite loop here."""
    sub = RebatchSubscription(samples=4, axis=-2)
    a = np.arange(2 * 3 * 5).reshape(2, 3, 5)
    b = np.arange(100, 100 + 2 * 6 * 5).reshape(2, 6, 5)
    sub.put_nowait(a)
    sub.put_nowait(b)
    joined = np.concatenate([a, b], axis=1)  # 9 along axis 1
    first = await within(sub.get())
    second = await within(sub.get())
    assert first.shape == second.shape == (2, 4, 5)
    np.testing.assert_array_equal(first, joined[:, 0:4, :])
    np.testing.assert_array_equal(second, joined[:, 4:8, :])
    await assertPending(sub.get())
    tail = np.full((2, 3, 5), -1)
    sub.put_nowait(tail)
    third = await within(sub.get())
    np.testing.assert_array_equal(third, np.concatenate([joined[:, 8:9, :], tail], axis=1))


async def test_rebatch_axis_minus_three_on_3d_arrays() -> None:
    sub = RebatchSubscription(samples=2, axis=-3)
    a = np.arange(3 * 2 * 2).reshape(3, 2, 2)
    sub.put_nowait(a)
    np.testing.assert_array_equal(await within(sub.get()), a[:2])
    await assertPending(sub.get())


async def test_rebatch_accepts_array_likes_and_skips_empty_inputs() -> None:
    sub = RebatchSubscription(samples=3)
    sub.put_nowait([1, 2])
    sub.put_nowait(np.zeros(0))
    sub.put_nowait([3, 4])
    np.testing.assert_array_equal(await within(sub.get()), [1, 2, 3])


async def test_rebatch_feeding_an_existing_subscription() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sub = RebatchSubscription(samples=1024, axis=1, subscription=queue)
    queue.put_nowait(np.zeros((2, 960)))
    queue.put_nowait(np.ones((2, 960)))
    chunk = await within(sub.get())
    assert chunk.shape == (2, 1024)
    assert np.all(chunk[:, :960] == 0) and np.all(chunk[:, 960:] == 1)
    # put_nowait forwards to the given subscription.
    sub.put_nowait(np.ones((2, 100)))
    assert queue.qsize() == 1


async def test_rebatch_reading_a_producer_subscription() -> None:
    producer = SubscriptionProducer()
    sub = RebatchSubscription(samples=4, subscription=producer.subscribe())
    producer.put_nowait(np.arange(3))
    producer.put_nowait(np.arange(3, 9))
    np.testing.assert_array_equal(await within(sub.get()), [0, 1, 2, 3])
    np.testing.assert_array_equal(await within(sub.get()), [4, 5, 6, 7])
    producer.close()


@pytest.mark.parametrize("samples", [0, -1, 1.5, 2.0, "4", None, True, False])
def test_rebatch_rejects_invalid_samples(samples: Any) -> None:
    with pytest.raises(ValueError, match="samples"):
        RebatchSubscription(samples)


@pytest.mark.parametrize(("axis", "shape"), [(1, (5,)), (-2, (5,)), (2, (2, 5)), (-3, (2, 5))])
async def test_rebatch_axis_that_does_not_exist_is_a_value_error(axis: int, shape: tuple[int, ...]) -> None:
    sub = RebatchSubscription(samples=2, axis=axis)
    sub.put_nowait(np.zeros(shape))
    with pytest.raises(ValueError, match="axis"):
        await within(sub.get())


@pytest.mark.parametrize("axis", [1.0, "1", None])
def test_rebatch_rejects_a_non_integer_axis(axis: Any) -> None:
    with pytest.raises(TypeError, match="axis"):
        RebatchSubscription(4, axis=axis)


@pytest.mark.parametrize(("axis", "first", "second"), [(1, (2, 3), (3, 3)), (0, (3, 2), (3, 4)), (-1, (2, 3), (3,))])
async def test_rebatch_mismatched_other_dimensions_is_a_value_error(
    axis: int, first: tuple[int, ...], second: tuple[int, ...]
) -> None:
    sub = RebatchSubscription(samples=10, axis=axis)
    sub.put_nowait(np.zeros(first))
    sub.put_nowait(np.zeros(second))
    with pytest.raises(ValueError):
        await within(sub.get())


async def test_rebatch_keeps_its_buffer_after_a_rejected_input() -> None:
    sub = RebatchSubscription(samples=4, axis=1)
    sub.put_nowait(np.zeros((2, 3)))
    sub.put_nowait(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="must match"):
        await within(sub.get())
    sub.put_nowait(np.ones((2, 1)))
    chunk = await within(sub.get())
    np.testing.assert_array_equal(chunk, [[0, 0, 0, 1], [0, 0, 0, 1]])


@pytest.mark.parametrize(
    "bad",
    [
        np.array([object(), object()], dtype=object),
        np.array([[1, None]], dtype=object),
        object(),
        None,
        np.float64(3.0),
        5,
        np.array(["a", "b"]),
    ],
    ids=["object-array", "object-2d", "object", "None", "numpy-scalar", "int", "strings"],
)
async def test_rebatch_non_numeric_or_scalar_input_is_a_type_error(bad: Any) -> None:
    sub = RebatchSubscription(samples=2)
    sub.put_nowait(bad)
    with pytest.raises(TypeError, match="RebatchSubscription"):
        await within(sub.get())


async def test_rebatch_exact_chunk_after_emptying_buffer_is_shared_again() -> None:
    sub = RebatchSubscription(samples=4)
    sub.put_nowait(np.arange(8))  # two chunks, nothing left over
    await within(sub.get())
    await within(sub.get())
    exact = np.arange(4, dtype=np.float32)
    sub.put_nowait(exact)
    assert np.shares_memory(await within(sub.get()), exact)


@st.composite
def rebatchCases(draw: st.DrawFn) -> tuple[int, int, list[np.ndarray[Any, Any]]]:
    ndim = draw(st.integers(1, 3))
    axis = draw(st.integers(-ndim, ndim - 1))
    samples = draw(st.integers(1, 12))
    other = [draw(st.integers(1, 3)) for _ in range(ndim)]
    lengths = draw(st.lists(st.integers(0, 30), min_size=0, max_size=8))
    realAxis = axis % ndim
    pieces = []
    counter = 0
    for length in lengths:
        shape = list(other)
        shape[realAxis] = length
        size = int(np.prod(shape))
        pieces.append(np.arange(counter, counter + size, dtype=np.int64).reshape(shape))
        counter += size
    return samples, axis, pieces


@settings(max_examples=60, deadline=None)
@given(rebatchCases())
def test_rebatch_property_chunks_concatenate_to_the_truncated_input(
    case: tuple[int, int, list[np.ndarray[Any, Any]]],
) -> None:
    samples, axis, pieces = case

    async def scenario() -> None:
        sub = RebatchSubscription(samples=samples, axis=axis)
        for piece in pieces:
            sub.put_nowait(piece)
        joined = np.concatenate(pieces, axis=axis) if pieces else np.zeros((0,), dtype=np.int64)
        realAxis = axis % joined.ndim if pieces else 0
        total = joined.shape[realAxis] if pieces else 0
        complete = total // samples
        chunks = [await asyncio.wait_for(sub.get(), 1) for _ in range(complete)]
        for chunk in chunks:
            assert chunk.ndim == joined.ndim
            assert chunk.shape[realAxis] == samples
        got = np.concatenate(chunks, axis=axis) if chunks else np.take(joined, np.arange(0), axis=realAxis)
        expected = np.take(joined, np.arange(complete * samples), axis=realAxis)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)

        # Nothing more is complete; the remainder is kept and completed by the next input.
        getter = asyncio.ensure_future(sub.get())
        for _ in range(3):
            await asyncio.sleep(0)
        assert not getter.done()
        if not pieces:
            getter.cancel()
            return
        remainder = total - complete * samples
        padShape = list(joined.shape)
        padShape[realAxis] = samples - remainder
        pad = np.full(padShape, -1, dtype=np.int64)
        sub.put_nowait(pad)
        last = await asyncio.wait_for(getter, 1)
        rest = np.take(joined, np.arange(complete * samples, total), axis=realAxis)
        np.testing.assert_array_equal(last, np.concatenate([rest, pad], axis=axis))

    asyncio.run(scenario())


async def test_rebatch_accepts_numpy_integers_as_samples_and_axis() -> None:
    sub = RebatchSubscription(np.int64(2), axis=np.int32(-1))
    sub.put_nowait(np.arange(4).reshape(1, 4))
    assert (await within(sub.get())).tolist() == [[0, 1]]
