"""Frames: numpy arrays that are read-only views of a shared-memory slot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class SlotLease:
    """Keeps one slot reserved for the reader; the slot is handed back when this dies.

    Only the frame created from the slot holds the lease. Every view derived from that
    frame keeps the frame (and so the lease) alive, because numpy keeps a view's base.
    ``ring`` and ``slot`` say where the frame lies, so that it can be handed on to another
    program without a copy (``ring`` is None where that is not possible).
    """

    __slots__ = ("_release", "ring", "slot", "__weakref__")

    def __init__(self, release: Callable[[], None], ring: Any = None, slot: int = -1) -> None:
        self._release = release
        self.ring = ring
        self.slot = slot

    def __del__(self) -> None:
        self._release()


class Frame(np.ndarray[Any, Any]):
    """An array delivered through shared memory, with where it came from and when.

    The frame is a read-only view of its slot: no copy was made between the producer and
    you, and every subscriber sees the same memory. The slot stays reserved while this
    frame or any view of it is alive; ``frame.copy()`` gives a private, writable array.

    Times are ``time.monotonic_ns()`` values, comparable across processes of one machine:
    ``timestamp`` when the data was captured, ``writtenNs`` when it was in the slot,
    ``announcedNs`` when the writer told the reader, ``receivedNs`` when the reader got it.
    ``deviceTimestamp`` is the device's own capture time where the device gives one.
    """

    sequence: int = -1
    timestamp: int = 0
    writtenNs: int = 0
    announcedNs: int = 0
    receivedNs: int = 0
    deviceTimestamp: float | None = None
    _lease: SlotLease | None = None  # only the frame made from the slot holds it

    def __array_finalize__(self, obj: Any) -> None:
        if isinstance(obj, Frame):  # a view or a result derived from a frame: same origin
            self.sequence = obj.sequence
            self.timestamp = obj.timestamp
            self.writtenNs = obj.writtenNs
            self.announcedNs = obj.announcedNs
            self.receivedNs = obj.receivedNs
            self.deviceTimestamp = obj.deviceTimestamp


def frameFromBuffer(
    buffer: Any,
    offset: int,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    lease: SlotLease,
) -> Frame:
    """A Frame over ``buffer[offset:]`` that holds ``lease`` until it dies; read-only when
    ``buffer`` is (the readers' mappings are), and then it cannot be made writable."""
    frame = np.ndarray.__new__(Frame, shape, dtype, buffer=buffer, offset=offset)
    frame._lease = lease
    return frame
