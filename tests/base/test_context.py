"""``async with obj:`` on producers and consumers (issue 15): the block gets the object;
leaving it, normally, by an exception or by cancellation, closes the object and waits
until it is torn down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from rtcbot import SubscriptionConsumer, SubscriptionProducer, SyntheticCamera
from rtcbot.base import ThreadedSubscriptionProducer, baseEventHandler

pytestmark = pytest.mark.loop_timeout(20)


class Ticking(ThreadedSubscriptionProducer[int]):
    """Ready once its worker runs; publishes nothing; ends when closed."""

    def _producer(self) -> None:
        self._setReady(True)
        while not self._shouldClose:
            time.sleep(0.001)


MAKERS: dict[str, Callable[[], baseEventHandler]] = {
    "in-process producer": SubscriptionProducer,
    "consumer": SubscriptionConsumer,
    "threaded producer": Ticking,
    "process producer": lambda: SyntheticCamera(width=64, height=48, fps=100),
}


@pytest.fixture(params=sorted(MAKERS))
def make(request: pytest.FixtureRequest) -> Callable[[], baseEventHandler]:
    return MAKERS[request.param]


def assertTornDown(obj: baseEventHandler) -> None:
    assert obj.closed and not obj.ready
    assert obj._isTornDown(), "teardown was awaited before the block's exit completed"


async def test_the_block_gets_the_object_and_leaving_it_closes_and_tears_it_down(
    make: Callable[[], baseEventHandler],
) -> None:
    obj = make()
    async with obj as entered:
        assert entered is obj
        await obj.onReady()
    assertTornDown(obj)


async def test_an_exception_in_the_block_propagates_after_teardown(make: Callable[[], baseEventHandler]) -> None:
    obj = make()
    with pytest.raises(RuntimeError, match="in the block"):
        async with obj:
            await obj.onReady()
            raise RuntimeError("in the block")
    assertTornDown(obj)
    assert obj.error is None, "the block's exception is not the object's error"


async def test_cancelling_the_block_propagates_after_teardown(make: Callable[[], baseEventHandler]) -> None:
    obj = make()
    inside = asyncio.Event()

    async def body() -> None:
        async with obj:
            await obj.onReady()
            inside.set()
            await asyncio.get_running_loop().create_future()  # until cancelled

    task = asyncio.create_task(body())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assertTornDown(obj)


async def test_a_cancellation_during_teardown_waits_for_it_then_propagates(
    make: Callable[[], baseEventHandler],
) -> None:
    obj = make()
    task: asyncio.Task[None] | None = None

    def cancelTheBlock() -> None:  # runs inside __aexit__, as close() fires onClose
        assert task is not None
        task.cancel()

    async def body() -> None:
        async with obj:
            await obj.onReady()
            obj.onClose(cancelTheBlock)

    task = asyncio.create_task(body())
    with pytest.raises(asyncio.CancelledError):
        await task
    assertTornDown(obj)


async def test_an_exception_in_the_block_survives_a_cancellation_during_teardown_as_its_context() -> None:
    obj = Ticking()
    task: asyncio.Task[None] | None = None

    async def body() -> None:
        async with obj:
            await obj.onReady()
            obj.onClose(lambda: task.cancel() if task is not None else None)
            raise ValueError("first")

    task = asyncio.create_task(body())
    with pytest.raises(asyncio.CancelledError) as raised:
        await task
    assert isinstance(raised.value.__context__, ValueError)
    assertTornDown(obj)
