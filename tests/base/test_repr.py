"""repr() of producers and consumers says what the object is and its state (issue 15)."""

from __future__ import annotations

import re
import time

import pytest

from rtcbot import (
    SubscriptionConsumer,
    SubscriptionProducer,
    SubscriptionProducerConsumer,
    SyntheticCamera,
    SyntheticMicrophone,
)
from rtcbot.base import ThreadedSubscriptionProducer, baseEventHandler


class Ticking(ThreadedSubscriptionProducer[int]):
    """Ready once its worker runs; publishes nothing; ends when closed."""

    def _producer(self) -> None:
        self._setReady(True)
        while not self._shouldClose:
            time.sleep(0.001)


def test_a_handler_shows_its_state() -> None:
    handler = baseEventHandler()
    assert repr(handler) == "<baseEventHandler not ready>"
    handler._setReady(True)
    assert repr(handler) == "<baseEventHandler ready>"
    handler.close()
    assert repr(handler) == "<baseEventHandler closed>"


def test_a_producer_shows_its_subscribers_while_open() -> None:
    producer: SubscriptionProducer[int] = SubscriptionProducer()
    assert repr(producer) == "<SubscriptionProducer ready 0 subscribers>"
    producer.subscribe(lambda item: None)
    assert repr(producer) == "<SubscriptionProducer ready 1 subscriber>"
    producer.subscribe(lambda item: None)
    assert repr(producer) == "<SubscriptionProducer ready 2 subscribers>"
    producer.close()
    assert repr(producer) == "<SubscriptionProducer closed>"
    assert repr(SubscriptionProducer(ready=False)) == "<SubscriptionProducer not ready 0 subscribers>"


def test_an_error_is_shown_shortened() -> None:
    producer: SubscriptionProducer[int] = SubscriptionProducer()
    producer._setError(RuntimeError("boom"))
    assert repr(producer) == "<SubscriptionProducer closed error=RuntimeError('boom')>"
    producer._setError(RuntimeError("x" * 200))
    shown = repr(producer)
    assert shown.startswith("<SubscriptionProducer closed error=RuntimeError('xxx") and shown.endswith("...>")
    assert len(shown) < 100


def test_a_consumer_shows_the_type_of_its_active_subscription() -> None:
    consumer: SubscriptionConsumer[int] = SubscriptionConsumer()
    assert repr(consumer) == "<SubscriptionConsumer ready>"
    producer: SubscriptionProducer[int] = SubscriptionProducer()
    consumer.putSubscription(producer)
    assert repr(consumer) == "<SubscriptionConsumer ready source=SubscriptionProducer>"
    consumer.put_nowait(1)  # back to direct input
    assert repr(consumer) == "<SubscriptionConsumer ready>"
    consumer.close()
    producer.close()
    assert repr(consumer) == "<SubscriptionConsumer closed>"


def test_a_producer_consumer_shows_both_sides() -> None:
    both: SubscriptionProducerConsumer[int, int] = SubscriptionProducerConsumer()
    source: SubscriptionProducer[int] = SubscriptionProducer()
    both.putSubscription(source)
    both.subscribe(lambda item: None)
    assert repr(both) == "<SubscriptionProducerConsumer ready 1 subscriber source=SubscriptionProducer>"
    both.close()
    source.close()


async def test_a_threaded_producer_before_and_after_ready_and_after_close() -> None:
    producer = Ticking()
    assert repr(producer) in ("<Ticking not ready 0 subscribers>", "<Ticking ready 0 subscribers>")
    await producer.onReady()
    assert repr(producer) == "<Ticking ready 0 subscribers>"
    producer.close()
    await producer
    assert repr(producer) == "<Ticking closed>"


def test_a_half_constructed_object_falls_back_to_its_class_name() -> None:
    built: list[SubscriptionProducer[int]] = []

    class Broken(SubscriptionProducer[int]):
        def __init__(self) -> None:
            built.append(self)
            raise ValueError("before the base __init__ ran")

    with pytest.raises(ValueError):
        Broken()
    assert repr(built[0]) == "<Broken>"


async def test_a_camera_shows_its_pid_state_and_frame_rate() -> None:
    camera = SyntheticCamera(width=64, height=48, fps=25)
    # pid, or "starting" while a forkserver or spawned child starts in the background
    assert re.fullmatch(r"<SyntheticCamera (pid=\d+|starting) (not )?ready 0 subscribers 25 fps>", repr(camera))
    await camera.onReady()
    camera.subscribe(lambda frame: None)
    assert repr(camera) == f"<SyntheticCamera pid={camera._process.pid} ready 1 subscriber 25 fps>"
    camera.close()
    await camera
    assert repr(camera) == "<SyntheticCamera closed 25 fps>", "no pid once the process is gone"


async def test_a_microphone_shows_its_samplerate() -> None:
    microphone = SyntheticMicrophone(samplerate=16000, blocksize=160)
    await microphone.onReady()
    assert re.fullmatch(r"<SyntheticMicrophone pid=\d+ ready 0 subscribers 16000 Hz>", repr(microphone))
    microphone.close()
    await microphone
    assert repr(microphone) == "<SyntheticMicrophone closed 16000 Hz>"
