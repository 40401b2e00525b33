"""Process objects used by the reliability tests (module level, so any start method works)."""

from __future__ import annotations

import contextlib
import queue
import zlib
from typing import Any

import numpy as np

from rtcbot.base import (
    ProcessSubscriptionConsumer,
    ProcessSubscriptionProducer,
    ProcessSubscriptionProducerConsumer,
    ThreadedSubscriptionProducer,
)

CHECKSUM_BYTES = 16 * 1024


def sealed(frame: np.ndarray[Any, Any]) -> bool:
    """True if a frame written by ChecksumPump is intact: its first 4 bytes are the CRC-32
    of everything after its first 8."""
    raw = frame.view(np.uint8)
    return int(raw[:4].view(np.uint32)[0]) == zlib.crc32(raw[8:].tobytes())


class ChecksumPump(ProcessSubscriptionProducer):
    """Flat out: fills claimed slots in place with fresh random bytes and seals each with
    its CRC-32 (and sequence number), so a slot rewritten while a reader holds it shows."""

    def _producer(self) -> None:
        rng = np.random.default_rng()
        self._setReady(True)
        sequence = 0
        while not self._shouldClose:
            frame = self._claimFrame((CHECKSUM_BYTES,), np.uint8)
            if frame is None:
                continue
            frame[8:] = rng.integers(0, 256, CHECKSUM_BYTES - 8, np.uint8)
            frame[4:8] = np.frombuffer(np.uint32(sequence).tobytes(), np.uint8)
            frame[:4] = np.frombuffer(np.uint32(zlib.crc32(frame[8:].tobytes())).tobytes(), np.uint8)
            self._put_nowait(frame)
            sequence += 1


class Drain(ProcessSubscriptionConsumer):
    """Takes whatever it is sent, until closed."""

    def _consumer(self) -> None:
        self._setReady(True)
        while True:
            self._get()


class SendsThenFails(ProcessSubscriptionProducer):
    """Sends "before", then tries to send ``bad``: the child's _put_nowait raises."""

    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad

    def _producer(self) -> None:
        self._setReady(True)
        self._put_nowait("before")
        if self.bad == "unpicklable":
            self._put_nowait(lambda: None)
        else:
            self._put_nowait(np.zeros((1 << 30) + 1, np.uint8))


class NeverReady(ProcessSubscriptionProducer):
    """Never calls _setReady; waits to be closed."""

    _readyWarningAfter = 0.2

    def _producer(self) -> None:
        self._sleep(60)


class Mirror(ProcessSubscriptionProducerConsumer):
    """Sends back everything it gets, unchanged."""

    def _producerConsumer(self) -> None:
        self._setReady(True)
        while True:
            self._put_nowait(self._get())


class Commanded(ThreadedSubscriptionProducer):
    """Publishes, from its worker thread, whatever is put on its ``commands`` queue."""

    def __init__(self) -> None:
        self.commands: queue.Queue[Any] = queue.Queue()
        super().__init__()

    def _producer(self) -> None:
        self._setReady(True)
        while not self._shouldClose:
            with contextlib.suppress(queue.Empty):
                self._put_nowait(self.commands.get(timeout=0.05))
