"""onReady listeners registered on an object that is ready already (issue 15): called once,
soon, from the event loop, and again on each later change to ready."""

from __future__ import annotations

import asyncio
import threading
import time

from rtcbot import SubscriptionProducer
from rtcbot.base import ThreadedSubscriptionProducer, baseEventHandler, threadedEventHandler


class Ticking(ThreadedSubscriptionProducer):
    """Ready once its worker runs; publishes nothing; ends when closed."""

    def _producer(self) -> None:
        self._setReady(True)
        while not self._shouldClose:
            time.sleep(0.001)


async def nextTurns() -> None:
    """Returns once every callback already scheduled on the loop has run (they are FIFO)."""
    done = asyncio.Event()
    asyncio.get_running_loop().call_soon(done.set)
    await done.wait()


async def test_a_callback_registered_on_a_ready_object_is_called_once_soon_not_inside_onReady() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    calls: list[int] = []
    called = asyncio.Event()
    handler.onReady(lambda: (calls.append(1), called.set()))
    assert calls == [], "not synchronously inside onReady()"
    await called.wait()
    await nextTurns()
    assert calls == [1]


async def test_a_coroutine_function_registered_on_a_ready_object_runs_once() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    runs: list[int] = []
    ran = asyncio.Event()

    async def listener() -> None:
        runs.append(1)
        ran.set()

    handler.onReady(listener)
    await ran.wait()
    await nextTurns()
    assert runs == [1]


async def test_a_queue_registered_on_a_ready_object_gets_one_None() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    sink: asyncio.Queue[None] = asyncio.Queue()
    handler.onReady(sink)
    assert sink.empty()
    assert await sink.get() is None
    await nextTurns()
    assert sink.empty()


async def test_the_decorator_on_a_SubscriptionProducer_ready_at_construction_runs() -> None:
    producer: SubscriptionProducer[int] = SubscriptionProducer()
    called = asyncio.Event()

    @producer.onReady
    def announce() -> None:
        called.set()

    await called.wait()
    producer.close()


async def test_each_kind_of_listener_on_a_threaded_producer_after_it_became_ready() -> None:
    producer = Ticking()
    await producer.onReady()
    calls: list[str] = []
    sink: asyncio.Queue[None] = asyncio.Queue()
    coroutineRan = asyncio.Event()

    async def coroutineListener() -> None:
        calls.append("coroutine")
        coroutineRan.set()

    producer.onReady(lambda: calls.append("callback"))
    producer.onReady(coroutineListener)
    producer.onReady(sink)
    assert await sink.get() is None
    await coroutineRan.wait()
    await nextTurns()
    assert calls == ["callback", "coroutine"] and sink.empty()
    producer.close()
    await producer


async def test_a_late_listener_is_called_again_on_a_later_change_to_ready() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    calls: list[int] = []
    handler.onReady(lambda: calls.append(1))
    await nextTurns()
    handler._setReady(False)
    handler._setReady(True)
    assert calls == [1, 1]


async def test_a_late_listener_is_not_called_twice_if_ready_changes_before_its_turn() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    calls: list[int] = []
    handler.onReady(lambda: calls.append(1))
    handler._setReady(False)
    handler._setReady(True)  # a new change to ready: this calls it
    assert calls == [1]
    await nextTurns()
    assert calls == [1], "the scheduled call for the earlier ready spell is dropped"


async def test_a_late_listener_is_not_called_if_the_object_closed_before_its_turn() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    calls: list[int] = []
    handler.onReady(lambda: calls.append(1))
    handler.close()
    await nextTurns()
    assert calls == []


async def test_registering_an_already_registered_listener_again_calls_it_no_more() -> None:
    handler = baseEventHandler()
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    handler.onReady(listener)
    handler._setReady(True)
    handler.onReady(listener)
    await nextTurns()
    assert calls == [1]


async def test_a_listener_registered_while_not_ready_runs_only_when_ready_comes() -> None:
    handler = baseEventHandler()
    calls: list[int] = []
    handler.onReady(lambda: calls.append(1))
    await nextTurns()
    assert calls == []
    handler._setReady(True)
    assert calls == [1]
    await nextTurns()
    assert calls == [1]


def test_a_late_listener_added_before_any_loop_runs_is_called_inside_asyncio_run() -> None:
    producer: SubscriptionProducer[int] = SubscriptionProducer()  # ready at construction
    threaded = threadedEventHandler()
    threaded._setReady(True)  # no loop bound yet: applied at once
    calls: list[str] = []
    producer.onReady(lambda: calls.append("producer"))
    threaded.onReady(lambda: calls.append("threaded"))
    assert calls == []

    async def main() -> None:
        await producer.onReady()  # the first use in a running loop
        await threaded.onReady()
        await nextTurns()
        producer.close()

    asyncio.run(main())
    assert calls == ["producer", "threaded"]


async def test_a_late_listener_registered_from_another_thread_runs_in_the_loop_thread() -> None:
    handler = threadedEventHandler()
    handler._setReady(True)
    ranIn: list[threading.Thread] = []
    called = asyncio.Event()
    worker = threading.Thread(
        target=handler.onReady, args=(lambda: (ranIn.append(threading.current_thread()), called.set()),)
    )
    worker.start()
    worker.join()
    await called.wait()
    assert ranIn == [threading.current_thread()]
