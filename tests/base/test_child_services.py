"""What the work method in a child can ask of its object besides data: waiting for a slot,
giving a slot back, notices to the parent, the latest item, timeouts and closable sleeps."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from rtcbot import Frame, SubscriptionClosed

from .processes import LatestTaker, Notifier, PatientClaimer, Sleeper, Unclaimer, stampOf


async def _everything(producer: Any) -> list[Any]:
    """Everything the producer publishes until it closes (frames as their stamps)."""
    items: list[Any] = []
    producer.subscribe(lambda item: items.append(stampOf(item) if isinstance(item, Frame) else item))
    await producer.onClose()
    await producer
    return items


async def test_a_claim_that_may_wait_loses_no_frame_while_subscribers_hold_every_slot() -> None:
    producer = PatientClaimer(count=40, wait=math.inf, slotCount=2)
    held: list[Frame] = []

    def holdInPairs(item: Any) -> None:  # keeps both slots until the second frame arrives
        if isinstance(item, Frame):
            held.append(item)
            if len(held) == 2:
                held.clear()

    producer.subscribe(holdInPairs)
    items = await _everything(producer)
    assert items == [*range(40), {"empty": 0}]
    assert producer.statistics().fromChild.dropped["slotsFull"] == 0


async def test_a_claim_that_waits_a_little_gives_up_and_counts_the_drop() -> None:
    producer = PatientClaimer(count=5, wait=0.01, slotCount=2)
    held: list[Frame] = []
    producer.subscribe(lambda item: held.append(item) if isinstance(item, Frame) else None)
    items = await _everything(producer)
    assert items == [0, 1, {"empty": 3}]
    assert producer.statistics().fromChild.dropped["slotsFull"] == 3
    held.clear()


async def test_an_unclaimed_slot_is_free_again_and_only_claimed_arrays_can_be_given_back() -> None:
    items = await _everything(Unclaimer(times=5))
    assert items == [{"claimed": 5, "stranger": "this array is not a claimed, unsent frame of this object"}]


async def test_notices_reach_the_parent_in_order_with_the_data_and_parent_only_state_stays_home(
    multiprocessingHelpers: None,
) -> None:
    producer = Notifier(count=20, startMethod="spawn")
    order: list[Any] = []
    producer.subscribe(lambda item: order.append(("item", item, len(producer.heard))))
    await producer.onClose()
    await producer
    assert order[0] == ("item", {"parentThingInChild": False}, 0)
    assert order[1:] == [("item", index, index) for index in range(20)], "notice i comes after item i"
    assert producer.heard == [("notice", index) for index in range(20)]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    readEnd, writeEnd = os.pipe()
    yield readEnd, writeEnd
    os.close(readEnd)
    os.close(writeEnd)


async def test_get_latest_skips_a_backlog_and_gives_its_slots_back(pipe: tuple[int, int]) -> None:
    taker = LatestTaker(goFd=pipe[0], slotCount=12, startMethod="fork")  # the child inherits the fd
    results: asyncio.Queue[Any] = asyncio.Queue()
    taker.subscribe(results)
    await taker.onReady()
    for index in range(10):
        taker.put_nowait(np.full(8, index, np.uint8))
    while taker.statistics().toChild.frames < 10:
        await asyncio.sleep(0.005)  # the feeder sends in the background; poll its counter
    os.write(pipe[1], b"g")
    assert await results.get() == 9
    outcome = await results.get()
    assert outcome[0] == "timed out after" and 0.04 < outcome[1] < 1
    assert taker.statistics().toChild.slotsInUse == 0
    taker.close()
    await taker


async def test_a_sleeping_child_wakes_at_close_and_returns_by_itself() -> None:
    sleeper = Sleeper(joinTimeout=30)
    await sleeper.onReady()
    started = time.monotonic()
    sleeper.close()
    await sleeper
    assert time.monotonic() - started < 5, "it returned by itself: SIGTERM would come only after 30 s"
    assert sleeper.error is None
    with pytest.raises(SubscriptionClosed):
        await sleeper.onReady()
