"""With no start method asked for, a process object forks, unless this process already runs
other threads: then it uses forkserver, since a child forked from a multi-threaded process
can hang on a lock another thread held (seen with rtcbot-latency after a WebRTC run)."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading

import pytest

from rtcbot.base._startmethod import defaultStartMethod

from .processes import Counter

pytestmark = pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="multiprocessing's default here is not fork"
)


def test_without_other_threads_the_default_stays_fork() -> None:
    assert threading.active_count() == 1
    assert defaultStartMethod() is None
    counter = Counter(3)
    try:
        assert counter._context.get_start_method() == "fork"
    finally:
        counter.close()


async def test_with_another_thread_running_a_child_is_started_by_the_forkserver_and_works() -> None:
    release = threading.Event()
    busy = threading.Thread(target=release.wait, name="a helper thread of the program")
    busy.start()
    try:
        counter = await asyncio.to_thread(Counter, 3)  # starting a forkserver child takes a while
        try:
            assert counter._context.get_start_method() == "forkserver"
            assert await asyncio.wait_for(counter.get(), 10) == 0
        finally:
            counter.close()
            await asyncio.wait_for(counter, 10)
    finally:
        release.set()
        await asyncio.to_thread(busy.join)


def test_a_start_method_asked_for_is_kept_whatever_the_threads() -> None:
    release = threading.Event()
    busy = threading.Thread(target=release.wait)
    busy.start()
    try:
        counter = Counter(3, startMethod="fork")
        try:
            assert counter._context.get_start_method() == "fork"
        finally:
            counter.close()
    finally:
        release.set()
        busy.join()
