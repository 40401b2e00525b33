"""Process producers and consumers used by the tests. They live at module level so that
the spawn and forkserver start methods can import them in the child."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from rtcbot.base import (
    ProcessSubscriptionConsumer,
    ProcessSubscriptionProducer,
    ProcessSubscriptionProducerConsumer,
)


def stampedFrame(sequence: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """A uint8 frame whose bytes all depend on ``sequence``: first 8 bytes hold it."""
    frame = np.full(shape, sequence % 251, np.uint8)
    frame.reshape(-1)[:8] = np.frombuffer(np.uint64(sequence).tobytes(), np.uint8)
    return frame


def stampOf(frame: np.ndarray[Any, Any]) -> int | None:
    """The sequence a stamped frame was made with, or None if its bytes are inconsistent."""
    flat = frame.reshape(-1)
    sequence = int(np.frombuffer(flat[:8].tobytes(), np.uint64)[0])
    if not np.all(flat[8:] == sequence % 251):
        return None
    return sequence


class Counter(ProcessSubscriptionProducer):
    """Publishes 0..count-1, a stamped frame after every ``frameEvery`` items, then returns."""

    def __init__(self, count: int, frameEvery: int = 0, **kwargs: Any) -> None:
        self.count = count
        super().__init__(**kwargs)
        self.frameEvery = frameEvery  # set after super().__init__(): must reach the child too

    def _producer(self) -> None:
        self._setReady(True)
        for index in range(self.count):
            self._put_nowait(index)
            if self.frameEvery and index % self.frameEvery == 0:
                self._put_nowait(stampedFrame(index, (16, 16)))


class FramePump(ProcessSubscriptionProducer):
    """Publishes stamped frames of ``shape`` as fast as possible until closed (or ``limit``),
    then a final dict with how many it tried to send."""

    def __init__(self, shape: tuple[int, ...], limit: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shape = shape
        self.limit = limit

    def _producer(self) -> None:
        self._setReady(True)
        sent = 0
        while not self._shouldClose and (not self.limit or sent < self.limit):
            self._put_nowait(stampedFrame(sent, self.shape))
            sent += 1
        self._put_nowait({"sent": sent})


class ShapeShifter(ProcessSubscriptionProducer):
    """Publishes frames whose shape and dtype change, then returns."""

    def _producer(self) -> None:
        self._setReady(True)
        self._put_nowait(np.full((4, 4), 1, np.uint8))
        self._put_nowait(np.full((64, 64, 3), 2, np.uint8))
        self._put_nowait(np.full((8,), 3.5, np.float32))
        self._put_nowait(np.full((256, 256), 4, np.uint16))


class ClaimingCamera(ProcessSubscriptionProducer):
    """Fills claimed slots in place (the zero-copy capture path) and reports their addresses."""

    def _producer(self) -> None:
        self._setReady(True)
        for index in range(3):
            frame = self._claimFrame((32, 32), np.uint8)
            assert frame is not None
            frame[:] = index
            self._put_nowait({"address": frame.ctypes.data})
            self._put_nowait(frame)


class Failing(ProcessSubscriptionProducer):
    """Publishes one item, then raises."""

    def _producer(self) -> None:
        self._setReady(True)
        self._put_nowait("before the failure")
        raise ValueError("sensor on fire")


class UnpicklableError(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


class FailingUnpicklably(ProcessSubscriptionProducer):
    def _producer(self) -> None:
        raise UnpicklableError()


class Idle(ProcessSubscriptionProducer):
    """Becomes ready and waits to be closed, checking every 5 ms."""

    def _producer(self) -> None:
        self._setReady(True)
        self._put_nowait(os.getpid())
        while not self._shouldClose:
            time.sleep(0.005)


class Stubborn(ProcessSubscriptionProducer):
    """Never looks at _shouldClose: closing it needs SIGTERM."""

    def _producer(self) -> None:
        self._setReady(True)
        while True:
            time.sleep(1)


class Echo(ProcessSubscriptionProducerConsumer):
    """Sends back what it gets: arrays doubled (a new array), anything else unchanged."""

    def _producerConsumer(self) -> None:
        self._setReady(True)
        while True:
            item = self._get()
            if isinstance(item, np.ndarray):
                self._put_nowait({"sequence": getattr(item, "sequence", None), "writeable": item.flags.writeable})
                self._put_nowait(item * 2)
            else:
                self._put_nowait(item)


class Recorder(ProcessSubscriptionConsumer):
    """Writes what it gets to ``path`` (one repr per line) and closes itself after ``count``."""

    def __init__(self, path: Path, count: int, **kwargs: Any) -> None:
        self.path = path
        self.count = count
        super().__init__(**kwargs)

    def _consumer(self) -> None:
        self._setReady(True)
        with open(self.path, "w") as out:
            for _ in range(self.count):
                item = self._get()
                summary = f"array {item.shape} {int(item.sum())}" if isinstance(item, np.ndarray) else repr(item)
                out.write(summary + "\n")
        self._close()


class FailingConsumer(ProcessSubscriptionConsumer):
    def _consumer(self) -> None:
        self._setReady(True)
        item = self._get()
        raise RuntimeError(f"cannot play {item!r}")


class CpuReporter(ProcessSubscriptionConsumer):
    """Blocks in _get(); when it gets "report" it fails with the CPU time it used since it was
    ready (its start-up, imports included, is not counted) as the message."""

    def _consumer(self) -> None:
        readyAt = time.process_time()
        self._setReady(True)
        while True:
            if self._get() == "report":
                raise RuntimeError(str(time.process_time() - readyAt))


class Holder(ProcessSubscriptionProducer):
    """Keeps an unpicklable attribute: fine with fork, a clear error with spawn."""

    def __init__(self, **kwargs: Any) -> None:
        self.lock = threading.Lock()
        super().__init__(**kwargs)

    def _producer(self) -> None:
        self._setReady(True)


class PatientClaimer(ProcessSubscriptionProducer):
    """Publishes ``count`` stamped frames, each in a slot claimed with ``_claimFrame(wait=...)``,
    then a dict of how many claims came back empty."""

    def __init__(self, count: int, wait: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count, self.wait = count, wait

    def _producer(self) -> None:
        self._setReady(True)
        empty = 0
        for index in range(self.count):
            slot = self._claimFrame((16, 16), np.uint8, wait=self.wait)
            if slot is None:
                empty += 1
                continue
            slot[...] = stampedFrame(index, (16, 16))
            self._put_nowait(slot)
        self._put_nowait({"empty": empty})


class Unclaimer(ProcessSubscriptionProducer):
    """With one slot: claims and gives back the slot ``times`` times, then reports what
    happened, including giving back an array that was never claimed."""

    def __init__(self, times: int, **kwargs: Any) -> None:
        super().__init__(slotCount=1, **kwargs)
        self.times = times

    def _producer(self) -> None:
        self._setReady(True)
        claimed = 0
        for _ in range(self.times):
            slot = self._claimFrame((4,), np.uint8)
            if slot is not None:
                claimed += 1
                self._unclaimFrame(slot)
        try:
            self._unclaimFrame(np.zeros(4, np.uint8))
            stranger = "accepted"
        except ValueError as error:
            stranger = str(error)
        self._put_nowait({"claimed": claimed, "stranger": stranger})


class Notifier(ProcessSubscriptionProducer):
    """Sends items 0..count-1, each followed by a notice; the parent records both, in order.
    ``parentThing`` stays in the parent: it is neither sent nor needed to pickle."""

    _parentOnly = frozenset({"parentThing", "heard"})

    def __init__(self, count: int, **kwargs: Any) -> None:
        self.count = count
        self.parentThing = threading.Lock()  # unpicklable
        self.heard: list[Any] = []
        super().__init__(**kwargs)

    def _producer(self) -> None:
        self._setReady(True)
        self._put_nowait({"parentThingInChild": hasattr(self, "parentThing")})
        for index in range(self.count):
            self._put_nowait(index)
            self._notify(("notice", index))

    def _onChildNotice(self, notice: Any) -> None:
        self.heard.append(notice)


class LatestTaker(ProcessSubscriptionProducerConsumer):
    """Waits for a byte on ``goFd`` (so items pile up unread), then takes the latest item
    with ``_getLatest`` and publishes it; then times a ``_get`` with nothing to get."""

    def __init__(self, goFd: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.goFd = goFd

    def _producerConsumer(self) -> None:
        self._setReady(True)
        os.read(self.goFd, 1)
        latest = self._getLatest()
        self._put_nowait(latest if isinstance(latest, str) else int(latest[0]))
        del latest
        started = time.monotonic()
        try:
            self._get(timeout=0.05)
            self._put_nowait("got something")
        except TimeoutError:
            self._put_nowait(("timed out after", time.monotonic() - started))


class Sleeper(ProcessSubscriptionProducer):
    """Sleeps with ``_sleep`` (a minute) until closed, then returns normally."""

    def _producer(self) -> None:
        self._setReady(True)
        self._sleep(60)


def useInChild(primitive: Any, item: int) -> None:
    """Uses a multiprocessing primitive so that the parent can see it was shared: puts or
    sends ``item``, sets, acquires, or writes ``item`` into it."""
    if hasattr(primitive, "put"):  # Queue, SimpleQueue
        primitive.put(item)
    elif hasattr(primitive, "send"):  # Connection
        primitive.send(item)
    elif hasattr(primitive, "is_set"):  # Event
        primitive.set()
    elif hasattr(primitive, "buf"):  # SharedMemory
        primitive.buf[0] = item
    elif hasattr(primitive, "value"):  # Value
        primitive.value = item
    elif hasattr(primitive, "get_obj"):  # Array
        primitive[:] = [item] * len(primitive)
    else:  # Lock: held until the child ends
        assert primitive.acquire(timeout=5)


class PrimitiveUser(ProcessSubscriptionConsumer):
    """Hands each item it gets to :func:`useInChild` with the primitive it holds, then
    tells the parent (``_notify``) that it did."""

    _parentOnly = frozenset({"used"})

    def __init__(self, primitive: Any, **kwargs: Any) -> None:
        self.primitive = primitive
        super().__init__(**kwargs)
        self.used: asyncio.Queue[int] = asyncio.Queue()

    def _consumer(self) -> None:
        self._setReady(True)
        while True:
            item = self._get()
            useInChild(self.primitive, item)
            self._notify(item)

    def _onChildNotice(self, notice: Any) -> None:
        self.used.put_nowait(notice)


class PrimitiveEcho(ProcessSubscriptionProducerConsumer):
    """Puts each item into the queue it holds and also publishes it back."""

    def __init__(self, queue: Any, **kwargs: Any) -> None:
        self.queue = queue
        super().__init__(**kwargs)

    def _producerConsumer(self) -> None:
        self._setReady(True)
        while True:
            item = self._get()
            self.queue.put(item)
            self._put_nowait(item)


class EnvironmentReader(ProcessSubscriptionProducer):
    """Puts the child's value of each environment variable in ``names`` (None where unset)."""

    def __init__(self, names: list[str], **kwargs: Any) -> None:
        self.names = names
        super().__init__(**kwargs)

    def _producer(self) -> None:
        self._setReady(True)
        for name in self.names:
            self._put_nowait(os.environ.get(name))
        while not self._shouldClose:
            time.sleep(0.01)


class Forward(ProcessSubscriptionConsumer):
    """Puts what it gets into ``results`` (a multiprocessing queue given by the test)."""

    def __init__(self, results: Any, **kwargs: Any) -> None:
        self.results = results
        super().__init__(**kwargs)

    def _consumer(self) -> None:
        self._setReady(True)
        while not self._shouldClose:
            self.results.put(self._get())


class Caller(ProcessSubscriptionProducer):
    """Publishes what ``function()`` returns, in the child, then returns."""

    def __init__(self, function: Any, **kwargs: Any) -> None:
        self.function = function
        super().__init__(**kwargs)

    def _producer(self) -> None:
        self._setReady(True)
        self._put_nowait(self.function())
