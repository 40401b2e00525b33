"""Rings of equally sized slots in shared memory, and who may touch which slot when.

The *writer* claims a free slot, fills it and announces it; from then on the slot belongs
to the *reader* until the reader releases it (when the last view of the frame made from
it dies). A slot the reader holds is never overwritten: when every slot is held the
writer drops the new array and counts it. Arrays too big for the current slots start a
new, bigger ring (a new *generation*); the old ring is retired and freed once all its
slots are back, so frames of the old size stay valid.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import mmap
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .frame import Frame, SlotLease, frameFromBuffer
from .protocol import FrameHeader, RingInfo, encodeRetire, encodeRing
from .segment import createSegment, mapSegment, pageAligned, reopenReadOnly

#: Default number of slots per ring.
DEFAULT_SLOT_COUNT = 6
#: Largest single array accepted, in bytes (beyond this a clear error is raised).
MAX_SLOT_BYTES = 1 << 30

Send = Callable[[bytes, "int | None"], None]


def fitsInSlot(value: object) -> bool:
    """True for arrays that travel through slots (others are pickled)."""
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind in "biufcmMSUV"
        and not value.dtype.hasobject
        and value.size > 0
    )


def checkSlotSize(shape: tuple[int, ...], dtype: np.dtype[Any]) -> int:
    """The bytes an array of ``shape``/``dtype`` needs; ValueError if no slot may hold them."""
    nbytes = math.prod(shape) * dtype.itemsize  # np.prod costs ~100 us on a cold cache
    if nbytes > MAX_SLOT_BYTES:
        raise ValueError(
            f"an array of {nbytes:,} bytes (shape {shape}, {dtype}) is larger than the "
            f"{MAX_SLOT_BYTES:,} bytes (1 GiB) a shared-memory slot may hold; send it in pieces"
        )
    return nbytes


@dataclass(slots=True)
class Claim:
    """A slot handed out for writing, and the array that covers it."""

    generation: int
    slot: int
    array: np.ndarray[Any, Any]


class _WriterRing:
    def __init__(self, generation: int, slotSize: int, slotCount: int, label: str, prefault: bool) -> None:
        self.info = RingInfo(generation, slotSize, slotCount)
        self.fd, self.mapping = createSegment(slotSize * slotCount, f"{label}-{generation}", prefault)
        self.free: list[int] = list(range(slotCount - 1, -1, -1))  # a stack: slot 0 on top
        self.retired = False

    @property
    def held(self) -> int:
        return self.info.slotCount - len(self.free)


class SlotWriter:
    """The writing end of a stream of frames: claims slots and announces them.

    ``send(message, fd)`` delivers protocol messages to the reader, in order. ``prefault``
    allocates a new ring's memory when it is made (outside event loops only), so the first
    frames through it are not slowed by page faults.
    """

    def __init__(self, slotCount: int, label: str, send: Send, prefault: bool = False) -> None:
        if slotCount < 1:
            raise ValueError(f"slotCount must be at least 1, got {slotCount}")
        self._slotCount = slotCount
        self._label = label
        self._send = send
        self._prefault = prefault
        self._rings: dict[int, _WriterRing] = {}
        self._current: _WriterRing | None = None
        self._nextGeneration = 0
        self.droppedSlotsFull = 0

    @property
    def slotsHeld(self) -> int:
        """Slots announced and not yet released by the reader."""
        return sum(ring.held for ring in self._rings.values())

    def claim(self, shape: tuple[int, ...], dtype: np.dtype[Any], countDrop: bool = True) -> Claim | None:
        """A writable slot array of ``shape``/``dtype``, or None if all are held (counted as
        a dropped frame when ``countDrop``)."""
        nbytes = checkSlotSize(shape, dtype)
        ring = self._ringFor(nbytes)
        if not ring.free:
            self.droppedSlotsFull += countDrop
            return None
        # The slot released last: its memory is the likeliest still in the caches. Going
        # round a ring of 22 1080p slots instead cost 917 us per frame copied, against 593 us
        # round 6 (the working set, not the ring, should set the cost).
        slot = ring.free.pop()
        array: np.ndarray[Any, Any] = np.ndarray(shape, dtype, buffer=ring.mapping, offset=slot * ring.info.slotSize)
        return Claim(ring.info.generation, slot, array)

    def isFull(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> bool:
        """True when an array of ``shape``/``dtype`` would find no free slot now."""
        nbytes = checkSlotSize(shape, dtype)
        current = self._current
        return current is not None and nbytes <= current.info.slotSize and not current.free

    def unclaim(self, claim: Claim) -> None:
        """Gives back a claimed slot that will not be announced."""
        self.release(claim.generation, claim.slot)

    def header(
        self,
        claim: Claim,
        sequence: int,
        timestamp: int,
        writtenNs: int,
        deviceTimestamp: float | None,
    ) -> FrameHeader:
        """The announcement of a filled slot (stamped with the time of announcing)."""
        return FrameHeader(
            claim.generation,
            claim.slot,
            sequence,
            timestamp,
            writtenNs,
            time.monotonic_ns(),
            self.droppedSlotsFull,
            deviceTimestamp,
            claim.array.dtype,
            claim.array.shape,
        )

    def release(self, generation: int, slot: int) -> None:
        """The reader is done with a slot: it may be written again."""
        ring = self._rings.get(generation)
        if ring is None:
            return
        ring.free.append(slot)
        if ring.retired and ring.held == 0:
            self._dropRing(ring)

    def _ringFor(self, nbytes: int) -> _WriterRing:
        current = self._current
        if current is not None and nbytes <= current.info.slotSize:
            return current
        ring = _WriterRing(
            self._nextGeneration, pageAligned(max(nbytes, 1)), self._slotCount, self._label, self._prefault
        )
        self._nextGeneration += 1
        self._rings[ring.info.generation] = ring
        self._current = ring
        try:
            self._send(encodeRing(ring.info), ring.fd)
        finally:
            os.close(ring.fd)
        if current is not None:
            current.retired = True
            if current.held == 0:
                self._dropRing(current)
        return ring

    def _dropRing(self, ring: _WriterRing) -> None:
        del self._rings[ring.info.generation]
        if ring is self._current:
            self._current = None
        self._send(encodeRetire(ring.info.generation), None)
        _closeIfUnused(ring.mapping)

    def close(self) -> None:
        """Forgets every ring (mappings close once no array of ours uses them)."""
        for ring in list(self._rings.values()):
            _closeIfUnused(ring.mapping)
        self._rings.clear()
        self._current = None


def _closeIfUnused(mapping: mmap.mmap) -> None:
    with contextlib.suppress(BufferError):  # an array still uses it; it is unmapped when that array dies
        mapping.close()


_ringKeys = itertools.count(1)


class SharedRing:
    """A ring as a reader holds it: the mapping, and its segment's fd for handing the ring
    on to another program while the ring is in use (``closed`` once it is retired).

    ``key`` tells rings apart across every reader of this process.
    """

    __slots__ = ("key", "mapping", "slotSize", "slotCount", "_fd", "_readOnlyFd")

    def __init__(self, info: RingInfo, fd: int) -> None:
        self.key = next(_ringKeys)
        self.slotSize = info.slotSize
        self.slotCount = info.slotCount
        self.mapping = mapSegment(fd, info.slotSize * info.slotCount, writable=False, keepFd=True)
        self._fd = fd
        self._readOnlyFd: int | None = None

    @property
    def closed(self) -> bool:
        """True once the ring was retired: no new frame will come from it."""
        return self._fd < 0

    def readOnlyFd(self) -> int:
        """An fd of the segment that allows reading only (made once, kept until close)."""
        if self._fd < 0:
            raise ValueError("the ring was retired; its segment can no longer be handed on")
        if self._readOnlyFd is None:
            self._readOnlyFd = reopenReadOnly(self._fd)
        return self._readOnlyFd

    def close(self) -> None:
        """Closes the fds; the mapping stays while frames over it live."""
        for fd in (self._fd, self._readOnlyFd):
            if fd is not None and fd >= 0:
                os.close(fd)
        self._fd, self._readOnlyFd = -1, None


class SlotReader:
    """The reading end: maps announced rings and turns announcements into Frames.

    ``sendRelease(generation, slot)`` is called when a frame dies, from whatever thread
    dropped the last reference; it must be thread-safe.
    """

    def __init__(self, sendRelease: Callable[[int, int], None]) -> None:
        self._sendRelease = sendRelease
        self._rings: dict[int, SharedRing] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.inUse = 0
        self.peakInUse = 0

    def addRing(self, info: RingInfo, fd: int) -> None:
        """Maps a ring the writer announced (read-only); keeps its fd until the ring retires."""
        try:
            ring = SharedRing(info, fd)
        except BaseException:
            os.close(fd)
            raise
        old = self._rings.pop(info.generation, None)
        if old is not None:
            old.close()
        self._rings[info.generation] = ring

    def ring(self, generation: int) -> SharedRing:
        """The ring of ``generation`` (KeyError if it is not here)."""
        return self._rings[generation]

    def rings(self) -> list[tuple[int, SharedRing]]:
        """Every ring in use, by generation."""
        return list(self._rings.items())

    def knows(self, generation: int) -> bool:
        """True once the ring of ``generation`` was added (and until it retires)."""
        return generation in self._rings

    def retire(self, generation: int) -> None:
        """The writer is done with a ring: forget it (live frames keep it mapped)."""
        ring = self._rings.pop(generation, None)
        if ring is not None:
            ring.close()

    def frame(self, header: FrameHeader, receivedNs: int) -> Frame:
        """The announced slot as a read-only Frame that releases the slot when it dies."""
        ring = self._rings.get(header.generation)
        if ring is None:
            raise RuntimeError(f"protocol error: a frame in ring {header.generation}, which was never announced")
        with self._lock:
            self.inUse += 1
            self.peakInUse = max(self.peakInUse, self.inUse)
        lease = SlotLease(partial(self._released, header.generation, header.slot), ring, header.slot)
        frame = frameFromBuffer(ring.mapping, header.slot * ring.slotSize, header.shape, header.dtype, lease)
        frame.sequence = header.sequence
        frame.timestamp = header.timestamp
        frame.writtenNs = header.writtenNs
        frame.announcedNs = header.announcedNs
        frame.receivedNs = receivedNs
        frame.deviceTimestamp = header.deviceTimestamp
        return frame

    def discard(self, header: FrameHeader) -> None:
        """Releases an announced slot at once, without making a frame of it."""
        if not self._closed:
            self._sendRelease(header.generation, header.slot)

    def _released(self, generation: int, slot: int) -> None:
        with self._lock:
            self.inUse -= 1
            closed = self._closed
        if not closed:
            self._sendRelease(generation, slot)

    def close(self) -> None:
        """Stops sending releases and forgets the rings (live frames keep them mapped)."""
        with self._lock:
            self._closed = True
        for ring in self._rings.values():
            ring.close()
        self._rings.clear()
