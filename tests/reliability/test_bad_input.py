"""Bad input: each case gets a clear error that names the problem, and nothing else is lost."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import numpy as np
import pytest

from rtcbot import SubscriptionClosed, SubscriptionConsumer, SubscriptionProducer

from ..base.processes import Echo
from .workers import Mirror, NeverReady, SendsThenFails

TOO_LARGE = (1 << 30) + 1  # bytes: one more than a slot may hold


async def _mirrored(*items: Any) -> list[Any]:
    """What Mirror (a process producer-consumer) sends back for ``items``."""
    echo = Mirror()
    replies: asyncio.Queue[Any] = asyncio.Queue()
    echo.subscribe(replies)
    for item in (*items, "end"):
        echo.put_nowait(item)
    received = []
    while not isinstance(reply := await asyncio.wait_for(replies.get(), 10), str) or reply != "end":
        received.append(reply)
    echo.close()
    await echo
    return received


async def test_unusual_arrays_cross_intact_and_what_follows_still_arrives() -> None:
    strided = np.arange(200, dtype=np.int32).reshape(10, 20)[:, ::3]  # not contiguous
    objects = np.array([{"a": 1}, None, "text"], dtype=object)
    empty = np.zeros((0, 3), np.float32)
    replies = await _mirrored(strided, objects, empty, "after")
    assert np.array_equal(replies[0], strided)
    assert replies[1].dtype == object and list(replies[1]) == [{"a": 1}, None, "text"]
    assert replies[2].shape == (0, 3) and replies[2].dtype == np.float32
    assert replies[3] == "after"


async def test_an_array_too_large_for_shared_memory_is_refused_and_nothing_else_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = np.zeros(TOO_LARGE, np.uint8)  # untouched pages: costs no memory
    echo = Echo()
    replies: asyncio.Queue[Any] = asyncio.Queue()
    echo.subscribe(replies)
    with pytest.raises(ValueError, match="1,073,741,825 bytes .* larger than the 1,073,741,824 bytes"):
        echo.put_nowait(huge)
    source = SubscriptionProducer()
    echo.putSubscription(source)  # from a subscription nobody can be told: logged and counted
    source.put_nowait(huge)
    source.put_nowait("after")
    assert await asyncio.wait_for(replies.get(), 10) == "after"
    assert echo.statistics().toChild.dropped["tooLarge"] == 1 and echo.error is None
    assert "dropped an array for the child: an array of 1,073,741,825 bytes" in caplog.text
    source.close()
    echo.close()
    await echo


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ("unpicklable", TypeError, "cannot send function .* to the parent process: it does not pickle"),
        ("too large", ValueError, "1,073,741,825 bytes .* larger than"),
    ],
)
async def test_what_a_child_cannot_send_is_its_error_and_what_it_sent_before_arrives(
    bad: str, error: type[Exception], message: str
) -> None:
    producer = SendsThenFails(bad)
    items: list[Any] = []
    producer.subscribe(items.append)
    reported = await asyncio.wait_for(producer.onError(), 10)
    await producer
    assert isinstance(reported, error) and re.search(message, str(reported)), reported
    assert items == ["before"]


async def test_a_child_that_never_becomes_ready_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="rtcbot")
    stuck = NeverReady()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stuck.onReady(), 0.6)
    stuck.close()
    await stuck
    assert "NeverReady is not ready 0.2 s after its child process" in caplog.text
    assert "self._setReady(True)" in caplog.text


async def test_a_failing_subscriber_callback_is_logged_and_the_others_get_every_item(
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = SubscriptionProducer()
    seen: list[int] = []

    def broken(item: int) -> None:
        raise RuntimeError(f"cannot handle {item}")

    producer.subscribe(broken)
    producer.subscribe(seen.append)
    for item in range(5):
        producer.put_nowait(item)
    await asyncio.sleep(0)
    assert seen == [0, 1, 2, 3, 4]
    assert producer.statistics().listenerErrors == 5
    assert "cannot handle 0" in caplog.text
    producer.close()


async def test_subscribe_42_says_what_it_takes_and_the_producer_still_works() -> None:
    producer = SubscriptionProducer()
    with pytest.raises(TypeError, match="42"):
        producer.subscribe(42)  # type: ignore[arg-type]
    subscription = producer.subscribe()
    producer.put_nowait("still works")
    assert await subscription.get() == "still works"
    producer.close()


async def test_operations_after_close_raise_subscription_closed_and_queued_items_still_come_out() -> None:
    producer = SubscriptionProducer(defaultAutosubscribe=True)
    consumer = SubscriptionConsumer()
    producer.put_nowait("queued")
    producer.close()
    consumer.close()
    for operation in (producer.subscribe, lambda: consumer.put_nowait(1), lambda: consumer.putSubscription(producer)):
        with pytest.raises(SubscriptionClosed, match="closed"):
            operation()
    assert await producer.get() == "queued"
    with pytest.raises(SubscriptionClosed):
        await producer.get()
