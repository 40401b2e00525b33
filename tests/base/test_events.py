"""baseEventHandler and threadedEventHandler: ready, error and close (behaviour.md §3.1-3.2)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from rtcbot.base import SubscriptionClosed, baseEventHandler, threadedEventHandler

# -- initial state and ready ---------------------------------------------------------------


def test_a_new_handler_is_not_ready_not_closed_and_has_no_error() -> None:
    handler = baseEventHandler()
    assert (handler.ready, handler.closed, handler.error) == (False, False, None)


async def test_setReady_defaults_to_true_and_calls_every_kind_of_listener_in_order() -> None:
    handler = baseEventHandler()
    calls: list[object] = []
    sink: asyncio.Queue[object] = asyncio.Queue()
    done = asyncio.Event()

    async def coroutineListener() -> None:
        calls.append("coroutine")
        done.set()

    handler.onReady(lambda: calls.append("first"))
    handler.onReady(sink)
    handler.onReady(coroutineListener)
    handler.onReady(lambda: calls.append("last"))
    handler._setReady()
    assert handler.ready
    assert calls == ["first", "last"]
    assert sink.get_nowait() is None
    await done.wait()
    assert calls == ["first", "last", "coroutine"]


def test_the_same_listener_registered_twice_is_called_once() -> None:
    handler = baseEventHandler()
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    handler.onReady(listener)
    handler.onReady(listener)
    handler._setReady(True)
    assert calls == [1]


def test_unhashable_listeners_are_accepted() -> None:
    class UnhashableSink:
        __hash__ = None  # type: ignore[assignment]

        def __init__(self) -> None:
            self.items: list[object] = []

        def put_nowait(self, item: object) -> None:
            self.items.append(item)

    handler = baseEventHandler()
    sink = handler.onReady(UnhashableSink())
    handler._setReady(True)
    assert sink.items == [None]


def test_onReady_with_a_listener_returns_it_so_it_works_as_a_decorator() -> None:
    handler = baseEventHandler()

    @handler.onReady
    def listener() -> None:
        pass

    assert callable(listener) and listener.__name__ == "listener"


def test_a_raising_listener_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    handler = baseEventHandler()
    calls: list[str] = []

    def broken() -> None:
        raise ValueError("listener bug")

    handler.onReady(broken)
    handler.onReady(lambda: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="rtcbot"):
        handler._setReady(True)
    assert calls == ["after"]
    assert "listener bug" in caplog.text


async def test_a_raising_coroutine_listener_is_logged_by_rtcbot_not_by_asyncio(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = baseEventHandler()
    ran = asyncio.Event()

    async def broken() -> None:
        ran.set()
        raise ValueError("async listener bug")

    handler.onReady(broken)
    with caplog.at_level(logging.ERROR, logger="rtcbot"):
        handler._setReady(True)
        await ran.wait()
        await asyncio.sleep(0)
    assert "async listener bug" in caplog.text


def test_listeners_that_are_not_callable_are_refused_at_once() -> None:
    handler = baseEventHandler()
    with pytest.raises(TypeError, match="onReady"):
        handler.onReady(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="onError"):
        handler.onError("not a listener")  # type: ignore[call-overload]


async def test_awaiting_onReady_waits_until_ready() -> None:
    handler = baseEventHandler()
    waiter = asyncio.ensure_future(handler.onReady().get())
    await asyncio.sleep(0)
    assert not waiter.done()
    handler._setReady(True)
    assert await waiter is None


async def test_awaiting_onReady_when_already_ready_returns_at_once() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    await asyncio.wait_for(handler.onReady(), 0.1)


def test_setReady_false_clears_ready_without_calling_listeners() -> None:
    handler = baseEventHandler()
    calls: list[int] = []
    handler.onReady(lambda: calls.append(1))
    handler._setReady(True)
    handler._setReady(False)
    assert not handler.ready
    assert calls == [1]
    handler._setReady(True)
    assert calls == [1, 1], "becoming ready again fires the listeners again"


# -- close ------------------------------------------------------------------------------------


def test_close_sets_closed_clears_ready_and_fires_onClose_once() -> None:
    handler = baseEventHandler()
    handler._setReady(True)
    calls: list[str] = []
    handler.onClose(lambda: calls.append("close"))
    handler.close()
    assert handler.closed and not handler.ready
    handler.close()
    assert calls == ["close"]


def test_close_does_not_fire_onReady_listeners_of_a_never_ready_object() -> None:
    """Defect #4: RTCBot 0.2.5 fired onReady listeners from close()."""
    handler = baseEventHandler()
    calls: list[int] = []
    handler.onReady(lambda: calls.append(1))
    handler.close()
    assert calls == []


async def test_a_pending_onReady_raises_when_the_object_closes_without_becoming_ready() -> None:
    """Defect #4: RTCBot 0.2.5 completed it as if the object were ready."""
    handler = baseEventHandler()
    waiter = asyncio.ensure_future(handler.onReady().get())
    await asyncio.sleep(0)
    handler.close()
    with pytest.raises(SubscriptionClosed, match="before it became ready"):
        await waiter
    with pytest.raises(SubscriptionClosed):
        await handler.onReady()


async def test_awaiting_the_object_waits_for_close() -> None:
    handler = baseEventHandler()
    waiter = asyncio.ensure_future(handler.onClose().get())
    awaited = asyncio.ensure_future(_awaitObject(handler))
    await asyncio.sleep(0)
    assert not waiter.done() and not awaited.done()
    handler.close()
    await asyncio.wait_for(asyncio.gather(waiter, awaited), 1)
    await asyncio.wait_for(_awaitObject(handler), 0.1)


async def _awaitObject(handler: baseEventHandler) -> None:
    await handler


# -- errors -----------------------------------------------------------------------------------


def test_setError_stores_the_error_fires_onError_and_closes() -> None:
    """Defect #5: RTCBot 0.2.5 left an errored object open and ready."""
    handler = baseEventHandler()
    handler._setReady(True)
    seen: list[BaseException] = []
    closes: list[int] = []
    handler.onError(seen.append)
    handler.onClose(lambda: closes.append(1))
    error = RuntimeError("camera unplugged")
    handler._setError(error)
    assert handler.error is error
    assert seen == [error]
    assert handler.closed and not handler.ready
    assert closes == [1]


def test_setError_ignores_None_and_rejects_non_exceptions() -> None:
    handler = baseEventHandler()
    handler._setError(None)
    assert handler.error is None and not handler.closed
    with pytest.raises(TypeError, match="exception instance"):
        handler._setError(False)  # type: ignore[arg-type]
    assert handler.error is None and not handler.closed


def test_a_later_error_replaces_the_earlier_one() -> None:
    handler = baseEventHandler()
    first, second = RuntimeError("first"), ValueError("second")
    handler._setError(first)
    handler._setError(second)
    assert handler.error is second


async def test_awaiting_onError_resolves_to_the_error() -> None:
    """Defect #3: in RTCBot 0.2.5 `await obj.onError()` raised TypeError."""
    handler = baseEventHandler()
    waiter = asyncio.ensure_future(handler.onError().get())
    direct = asyncio.ensure_future(_awaitError(handler))
    await asyncio.sleep(0)
    error = RuntimeError("boom")
    handler._setError(error)
    assert await waiter is error
    assert await direct is error
    assert await asyncio.wait_for(handler.onError(), 0.1) is error


async def _awaitError(handler: baseEventHandler) -> BaseException | None:
    return await handler.onError()


async def test_awaiting_onError_resolves_to_None_when_the_object_closes_cleanly() -> None:
    handler = baseEventHandler()
    waiter = asyncio.ensure_future(handler.onError().get())
    await asyncio.sleep(0)
    handler.close()
    assert await asyncio.wait_for(waiter, 1) is None


def test_onError_without_argument_registers_nothing() -> None:
    """Defect #26: each bare onError() call leaked a registry entry in RTCBot 0.2.5."""
    handler = baseEventHandler()
    for _ in range(100):
        handler.onError()
    calls: list[BaseException] = []
    handler.onError(calls.append)
    assert len(handler._baseEventHandler__errorListeners) == 1  # type: ignore[attr-defined]


# -- threadedEventHandler ---------------------------------------------------------------------


async def test_threaded_setReady_from_a_thread_runs_listeners_in_the_loop_thread() -> None:
    handler = threadedEventHandler()
    ranIn: list[threading.Thread] = []
    readyNow = asyncio.Event()
    handler.onReady(lambda: (ranIn.append(threading.current_thread()), readyNow.set()))
    worker = threading.Thread(target=handler._setReady)  # no argument: defect #8
    worker.start()
    worker.join()
    await asyncio.wait_for(readyNow.wait(), 1)
    assert handler.ready
    assert ranIn == [threading.current_thread()]


async def test_threaded_setError_from_a_thread_reaches_onError_and_closes() -> None:
    handler = threadedEventHandler()
    error = OSError("device gone")
    worker = threading.Thread(target=handler._setError, args=(error,))
    worker.start()
    worker.join()
    assert await asyncio.wait_for(handler.onError(), 1) is error
    assert handler.closed


@pytest.fixture
def loopInAnotherThread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="other-loop")
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_an_explicit_loop_is_honoured(loopInAnotherThread: asyncio.AbstractEventLoop) -> None:
    """Defect #8: RTCBot 0.2.5 replaced the given loop with get_event_loop()."""
    handler = threadedEventHandler(loop=loopInAnotherThread)
    ranIn: list[str] = []
    done = threading.Event()
    handler.onReady(lambda: (ranIn.append(threading.current_thread().name), done.set()))
    handler._setReady(True)
    assert done.wait(5)
    assert ranIn == ["other-loop"]


def test_a_handler_created_before_the_loop_runs_works_inside_asyncio_run() -> None:
    """Defect #22: RTCBot 0.2.5 bound to a different loop (and warned on 3.12+)."""
    handler = threadedEventHandler()

    async def main() -> None:
        waiter = asyncio.ensure_future(handler.onReady().get())
        await asyncio.sleep(0)
        worker = threading.Thread(target=handler._setReady, args=(True,))
        worker.start()
        worker.join()
        await asyncio.wait_for(waiter, 1)

    asyncio.run(main())
    assert handler.ready
