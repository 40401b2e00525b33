"""ThreadedSubscriptionProducer and ThreadedSubscriptionConsumer (behaviour.md §3.8-3.9)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from rtcbot import MostRecentSubscription, SubscriptionClosed
from rtcbot.base import ThreadedSubscriptionConsumer, ThreadedSubscriptionProducer

from .._ticker import LoopTicker


class Counter(ThreadedSubscriptionProducer):
    """Publishes 0..count-1 from its worker thread, then returns."""

    def __init__(self, count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = count  # assigned after super().__init__(): the worker must still see it
        self.workerThread: threading.Thread | None = None

    def _producer(self) -> None:
        self.workerThread = threading.current_thread()
        self._setReady()
        for index in range(self.count):
            self._put_nowait(index)


class Endless(ThreadedSubscriptionProducer):
    """Publishes increasing numbers until closed; each step takes ``period`` seconds."""

    def __init__(self, period: float = 0.001, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.period = period
        self.started = threading.Event()

    def _producer(self) -> None:
        self._setReady(True)
        self.started.set()
        index = 0
        while not self._shouldClose:
            self._put_nowait(index)
            index += 1
            time.sleep(self.period)
        self._setReady(False)


class Recorder(ThreadedSubscriptionConsumer):
    """Records every item its worker reads; stops on SubscriptionClosed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items: list[Any] = []
        self.seen = threading.Condition()

    def _consumer(self) -> None:
        self._setReady(True)
        while True:
            item = self._get()
            with self.seen:
                self.items.append(item)
                self.seen.notify_all()

    async def waitForItems(self, count: int) -> list[Any]:
        def wait() -> list[Any]:
            with self.seen:
                assert self.seen.wait_for(lambda: len(self.items) >= count, timeout=5)
                return list(self.items)

        return await asyncio.to_thread(wait)


# -- producer ---------------------------------------------------------------------------------


async def test_a_threaded_producer_delivers_every_item_in_order_and_closes_when_done() -> None:
    """Defect #20/#10: attributes set after super().__init__() are visible; data sent before the
    worker ended is delivered, and the object closes."""
    counter = Counter(200, defaultAutosubscribe=True)
    await counter.onReady()
    items = [await counter.get() for _ in range(200)]
    assert items == list(range(200))
    await asyncio.wait_for(counter, 5)
    assert counter.closed and counter.error is None
    assert counter.workerThread is not None and not counter.workerThread.is_alive()
    with pytest.raises(SubscriptionClosed):
        await counter.get()


async def test_ready_listeners_run_in_the_loop_thread() -> None:
    counter = Counter(0)
    ranIn: list[threading.Thread] = []
    counter.onReady(lambda: ranIn.append(threading.current_thread()))
    await asyncio.wait_for(counter, 5)
    assert ranIn == [threading.current_thread()]


async def test_a_worker_exception_becomes_the_error_and_closes_the_object() -> None:
    """Defect #5: in RTCBot 0.2.5 the thread died silently and the object stayed open."""

    class Broken(ThreadedSubscriptionProducer):
        def _producer(self) -> None:
            self._setReady(True)
            raise ValueError("sensor on fire")

    broken = Broken()
    errors: list[BaseException] = []
    broken.onError(errors.append)
    pending = asyncio.ensure_future(broken.get())
    error = await asyncio.wait_for(broken.onError(), 5)
    assert isinstance(error, ValueError) and str(error) == "sensor on fire"
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(pending, 5)
    await asyncio.wait_for(broken, 5)
    assert broken.closed and not broken.ready
    assert errors == [error]


async def test_a_producer_without_a_producer_method_reports_it() -> None:
    unfinished = ThreadedSubscriptionProducer()
    error = await asyncio.wait_for(unfinished.onError(), 5)
    assert isinstance(error, NotImplementedError) and "_producer" in str(error)
    await asyncio.wait_for(unfinished, 5)


async def test_close_from_a_coroutine_does_not_stall_the_loop() -> None:
    """Defect #17: RTCBot 0.2.5 joined the worker on the loop thread (3 s measured).

    The worker needs 0.3 s to notice the close; the harness fails the test if any callback
    blocks the loop for more than 50 ms, and a 10 ms ticker must see no gap over 50 ms."""
    slow = Endless(period=0.3, defaultSubscriptionClass=MostRecentSubscription)
    await slow.onReady()
    async with LoopTicker() as ticker:
        started = time.monotonic()
        slow.close()
        assert time.monotonic() - started < 0.01 and slow.closed
        await asyncio.wait_for(slow, 5)
    assert ticker.maxGap < 0.05, ticker.maxGap
    assert not any(t.name.startswith("rtcbot-") for t in threading.enumerate())


async def test_private_close_from_the_worker_closes_the_object() -> None:
    class OneShot(ThreadedSubscriptionProducer):
        def _producer(self) -> None:
            self._setReady(True)
            self._put_nowait("only")
            self._close()
            while not self._shouldClose:
                time.sleep(0.001)

    oneShot = OneShot(defaultAutosubscribe=True)
    assert await asyncio.wait_for(oneShot.get(), 5) == "only"
    await asyncio.wait_for(oneShot, 5)
    assert oneShot.closed and oneShot.error is None


async def test_close_from_another_thread_is_safe() -> None:
    endless = Endless()
    await endless.onReady()
    closer = threading.Thread(target=endless.close)
    closer.start()
    await asyncio.to_thread(closer.join)
    await asyncio.wait_for(endless, 5)
    assert endless.closed


def test_a_producer_created_before_the_loop_starts_its_worker_inside_asyncio_run() -> None:
    """Defect #22: RTCBot 0.2.5 bound it to another loop; onReady() never completed."""
    counter = Counter(3)
    assert counter.workerThread is None, "no loop known yet, so no worker yet"

    async def main() -> list[int]:
        items = [await counter.get()]
        items += [await counter.get() for _ in range(2)]
        await counter
        return items

    # The first get() subscribes before the worker starts, so nothing is missed.
    assert asyncio.run(main()) == [0, 1, 2]


def test_an_explicit_loop_in_another_thread_is_honoured() -> None:
    """Defect #8: RTCBot 0.2.5 ignored loop=."""
    loop = asyncio.new_event_loop()
    loopThread = threading.Thread(target=loop.run_forever, name="explicit-loop")
    loopThread.start()
    try:
        endless = Endless(loop=loop)
        seenIn: set[str] = set()
        received = threading.Event()

        def onItem(item: int) -> None:
            seenIn.add(threading.current_thread().name)
            received.set()

        asyncio.run_coroutine_threadsafe(_call(lambda: endless.subscribe(onItem)), loop).result(5)
        assert received.wait(5)
        asyncio.run_coroutine_threadsafe(_call(endless.close), loop).result(5)
        asyncio.run_coroutine_threadsafe(_awaitTeardown(endless), loop).result(5)
        assert seenIn == {"explicit-loop"}
    finally:
        loop.call_soon_threadsafe(loop.stop)
        loopThread.join(5)
        loop.close()


async def _call(function: Any) -> None:
    function()


async def _awaitTeardown(obj: Any) -> None:
    await obj


def test_a_worker_ends_when_its_loop_is_gone() -> None:
    endless = Endless()

    async def main() -> None:
        await endless.onReady()

    asyncio.run(main())
    assert endless.started.wait(5)
    worker = endless._workerThread
    assert worker is not None
    worker.join(5)
    assert not worker.is_alive()


# -- consumer ---------------------------------------------------------------------------------


async def test_a_threaded_consumer_processes_put_items_in_its_worker() -> None:
    recorder = Recorder()
    recorder.put_nowait("before ready")
    await recorder.onReady()
    for index in range(50):
        recorder.put_nowait(index)
    assert await recorder.waitForItems(51) == ["before ready", *range(50)]
    recorder.close()
    await asyncio.wait_for(recorder, 5)
    assert recorder.error is None
    assert not any(t.name.startswith("rtcbot-") for t in threading.enumerate())


async def test_a_threaded_consumer_follows_a_subscription_switch() -> None:
    recorder = Recorder()
    first: asyncio.Queue[Any] = asyncio.Queue()
    second: asyncio.Queue[Any] = asyncio.Queue()
    recorder.putSubscription(first)
    first.put_nowait("a")
    await recorder.waitForItems(1)
    recorder.putSubscription(second)
    first.put_nowait("stale")
    second.put_nowait("b")
    assert await recorder.waitForItems(2) == ["a", "b"]
    assert first.qsize() == 1
    recorder.close()
    await asyncio.wait_for(recorder, 5)


async def test_a_threaded_consumer_reads_a_threaded_producer() -> None:
    counter = Counter(100)
    recorder = Recorder()
    recorder.putSubscription(counter)
    assert await recorder.waitForItems(100) == list(range(100))
    await asyncio.wait_for(counter, 5)
    recorder.close()
    await asyncio.wait_for(recorder, 5)


async def test_a_consumer_worker_exception_becomes_the_error() -> None:
    class Picky(ThreadedSubscriptionConsumer):
        def _consumer(self) -> None:
            self._setReady(True)
            item = self._get()
            raise ValueError(f"cannot handle {item!r}")

    picky = Picky()
    picky.put_nowait("this")
    error = await asyncio.wait_for(picky.onError(), 5)
    assert isinstance(error, ValueError) and "'this'" in str(error)
    await asyncio.wait_for(picky, 5)
    assert picky.closed


async def test_the_blocking_get_refuses_to_run_in_the_event_loop() -> None:
    recorder = Recorder()
    with pytest.raises(RuntimeError, match="worker thread"):
        recorder._get()
    recorder.close()
    await asyncio.wait_for(recorder, 5)


async def test_close_ends_a_consumer_blocked_in_get_without_stalling_the_loop() -> None:
    recorder = Recorder()
    await recorder.onReady()
    started = time.monotonic()
    recorder.close()
    assert time.monotonic() - started < 0.01
    await asyncio.wait_for(recorder, 5)
    assert recorder.error is None and recorder.closed
