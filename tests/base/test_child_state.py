"""What a process object's child gets: multiprocessing's primitives reach it under every
start method (issue 15, defect 2), and what cannot be sent is named."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from multiprocessing import shared_memory
from typing import Any

import pytest

from .processes import EnvironmentReader, Holder, PrimitiveEcho, PrimitiveUser

START_METHODS = ["fork", "forkserver", "spawn"]


def _sharedMemory(context: Any) -> Any:
    return shared_memory.SharedMemory(create=True, size=16)


#: Each primitive: how to make it in a context, and how the parent reads what the child did
#: with ``item`` (see processes.useInChild).
PRIMITIVES: dict[str, tuple[Callable[[Any], Any], Callable[[Any, int], bool]]] = {
    "Queue": (lambda ctx: ctx.Queue(), lambda q, item: q.get(timeout=10) == item),
    "SimpleQueue": (lambda ctx: ctx.SimpleQueue(), lambda q, item: q.get() == item),
    "Event": (lambda ctx: ctx.Event(), lambda e, item: e.is_set()),
    "Lock": (lambda ctx: ctx.Lock(), lambda lock, item: not lock.acquire(block=False)),
    "Value": (lambda ctx: ctx.Value("i", 0), lambda v, item: v.value == item),
    "Array": (lambda ctx: ctx.Array("i", 4), lambda a, item: list(a) == [item] * 4),
    "SharedMemory": (_sharedMemory, lambda shm, item: shm.buf[0] == item),
    "Connection": (lambda ctx: ctx.Pipe(), lambda pipe, item: pipe[0].poll(10) and pipe[0].recv() == item),
}


def _release(name: str, primitive: Any) -> None:
    if name == "SharedMemory":
        primitive.close()
        primitive.unlink()
    elif name == "Connection":
        for end in primitive:
            end.close()


@pytest.mark.parametrize("name", list(PRIMITIVES))
@pytest.mark.parametrize("startMethod", START_METHODS)
async def test_a_multiprocessing_primitive_attribute_reaches_the_child(
    startMethod: str, name: str, multiprocessingHelpers: None
) -> None:
    make, check = PRIMITIVES[name]
    primitive = make(multiprocessing.get_context(startMethod))
    # Built off the loop (starting a child takes a while): it binds to the loop at first use.
    childsPart = primitive[1] if name == "Connection" else primitive
    user = await asyncio.to_thread(PrimitiveUser, childsPart, startMethod=startMethod)
    try:
        await asyncio.wait_for(user.onReady(), 20)
        user.put_nowait(42)
        assert await asyncio.wait_for(user.used.get(), 10) == 42
        assert await asyncio.to_thread(check, primitive, 42), f"the parent does not see the child's use of {name}"
        assert user.error is None
    finally:
        user.close()
        await asyncio.wait_for(user, 10)
        _release(name, primitive)


@pytest.mark.parametrize("startMethod", START_METHODS)
async def test_a_producer_consumer_child_gets_a_queue_and_publishes_back(
    startMethod: str, multiprocessingHelpers: None
) -> None:
    queue = multiprocessing.get_context(startMethod).Queue()
    echo = await asyncio.to_thread(PrimitiveEcho, queue, defaultAutosubscribe=True, startMethod=startMethod)
    try:
        await asyncio.wait_for(echo.onReady(), 20)
        for item in range(3):
            echo.put_nowait(item)
        assert [await asyncio.wait_for(echo.get(), 10) for _ in range(3)] == [0, 1, 2]
        assert [await asyncio.to_thread(queue.get, True, 10) for _ in range(3)] == [0, 1, 2]
    finally:
        echo.close()
        await asyncio.wait_for(echo, 10)
        queue.close()


@pytest.mark.parametrize("startMethod", ["forkserver", "spawn"])
def test_what_really_cannot_be_sent_is_named_and_starts_nothing(startMethod: str, multiprocessingHelpers: None) -> None:
    before = multiprocessing.active_children()
    with pytest.raises(TypeError, match=rf"Holder\.lock \(lock\).*'{startMethod}'.*does not pickle"):
        Holder(startMethod=startMethod)
    assert multiprocessing.active_children() == before


@pytest.mark.parametrize("startMethod", START_METHODS)
async def test_the_child_sees_the_environment_of_when_it_started(
    startMethod: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forkserver, started earlier, would hand its children its own old environment: a
    PULSE_SERVER or DISPLAY set since would be missing there, and a removed one still set."""
    # tests/conftest.py started the forkserver before any test
    monkeypatch.setenv("RTCBOT_TEST_SET_LATER", "set after the forkserver started")
    monkeypatch.delenv("HOME")
    reader = await asyncio.to_thread(EnvironmentReader, ["RTCBOT_TEST_SET_LATER", "HOME"], startMethod=startMethod)
    try:
        assert await asyncio.wait_for(reader.get(), 10) == "set after the forkserver started"
        assert await asyncio.wait_for(reader.get(), 10) is None
    finally:
        reader.close()
        await asyncio.wait_for(reader, 10)
