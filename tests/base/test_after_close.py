"""What an object that has already closed still tells: a late onClose listener is called once,
a late onError listener gets the error, and the reads of a process
producer whose work method returned end with SourceEnded."""

from __future__ import annotations

import asyncio

import pytest

from rtcbot import ProducerClosed, SourceEnded
from rtcbot.base import baseEventHandler

from .processes import Counter, Failing, Sleeper


async def _turns(count: int = 3) -> None:
    """Lets the callbacks already scheduled (and those they schedule) run."""
    for _ in range(count):
        done = asyncio.Event()
        asyncio.get_running_loop().call_soon(done.set)
        await done.wait()


async def test_an_onClose_listener_registered_after_close_is_called_once_soon() -> None:
    handler = baseEventHandler()
    handler.close()
    calls: list[str] = []
    called = asyncio.Event()
    handler.onClose(lambda: (calls.append("closed"), called.set()))
    assert calls == [], "soon, from the loop, not inside onClose()"
    await asyncio.wait_for(called.wait(), 5)
    handler.close()
    await _turns()
    assert calls == ["closed"]


async def test_an_onError_listener_registered_after_a_failure_gets_the_error_once() -> None:
    failing = Failing()
    await asyncio.wait_for(failing, 10)
    assert failing.error is not None
    received: list[BaseException] = []
    called = asyncio.Event()
    failing.onError(lambda error: (received.append(error), called.set()))
    await asyncio.wait_for(called.wait(), 5)
    await _turns()
    assert received == [failing.error]


async def test_an_onError_listener_registered_after_a_clean_close_is_not_called() -> None:
    handler = baseEventHandler()
    handler.close()
    calls: list[object] = []
    handler.onError(calls.append)
    closed = asyncio.Event()
    handler.onClose(closed.set)  # registered after: called after it would have been
    await asyncio.wait_for(closed.wait(), 5)
    await _turns()
    assert calls == []


async def test_reads_of_a_process_producer_whose_work_method_returned_end_with_SourceEnded() -> None:
    counter = Counter(3)
    assert [await asyncio.wait_for(counter.get(), 10) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(SourceEnded, match=r"_producer\(\) returned"):
        await asyncio.wait_for(counter.get(), 10)
    with pytest.raises(SourceEnded):
        counter.subscribe()
    await asyncio.wait_for(counter, 10)


async def test_a_process_producer_closed_by_the_parent_ends_reads_with_ProducerClosed_only() -> None:
    sleeper = Sleeper()
    await asyncio.wait_for(sleeper.onReady(), 10)
    sleeper.close()
    await asyncio.wait_for(sleeper, 10)
    with pytest.raises(ProducerClosed) as raised:
        await sleeper.get()
    assert not isinstance(raised.value, SourceEnded)
