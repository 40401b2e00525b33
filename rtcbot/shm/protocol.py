"""The messages exchanged over a process's socket, and their byte encoding.

Every message is a 5-byte header (kind, payload length) and a payload. A message that
carries a file descriptor (a new ring's segment) sends it as SCM_RIGHTS ancillary data
together with its own bytes; the reader queues received fds in arrival order.
"""

from __future__ import annotations

import ast
import enum
import functools
import os
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

HEADER = struct.Struct("<BI")
_FRAME = struct.Struct("<IIQQQQQdBH")
_RING = struct.Struct("<IQI")
_SLOT = struct.Struct("<II")
_GENERATION = struct.Struct("<I")
_FLAG = struct.Struct("<?")
_COUNT = struct.Struct("<Q")
_PROGRAM = struct.Struct("<IH")

NO_DEVICE_TIME = float("nan")


class Kind(enum.IntEnum):
    """What a message is."""

    FRAME = 1  # an array in a slot: FrameHeader
    ITEM = 2  # anything else, pickled
    NEW_RING = 3  # a ring of slots (segment fd attached): RingInfo
    RETIRE_RING = 4  # the writer will not use this ring again
    RELEASE = 5  # the reader is done with a slot
    READY = 6  # the child's ready state changed
    ERROR = 7  # the child reports an error (pickled ErrorReport)
    CLOSE = 8  # parent -> child: stop; child -> parent: the child asks to be closed
    DROPPED = 10  # the writer's count of arrays dropped because every slot was held
    NOTICE = 11  # child -> parent: a device's status report (pickled), not data
    HELLO = 12  # attached program -> publisher: what it wants (JSON)
    INFO = 13  # publisher -> attached program: the stream and its state (JSON)
    REFUSED = 14  # publisher -> attached program: why it may not attach (UTF-8)
    ANNOUNCEMENTS = 15  # publisher -> attached program: its announcement page (fd attached)
    WAKEUP = 16  # publisher -> attached program: the eventfd written after announcing (fd attached)
    DIRECT_WAKEUP = 17  # parent -> child: an attached program's eventfd (fd attached): program id
    DIRECT_PROGRAM = 18  # parent -> child: announce to this program's page (fd attached): id, limit
    DIRECT_REMOVE = 19  # parent -> child: the program went away: id
    PROGRAM_SLOTS = 20  # child -> parent: how many slots attached programs hold now
    LISTENING = 21  # parent -> child: an event loop reads what the child sends from now on


_KINDS: dict[int, Kind] = {int(kind): kind for kind in Kind}  # faster than Kind(value)


class FrameHeader(NamedTuple):
    """Where a frame lies and what it is (a named tuple: made for every frame, and a
    frozen dataclass takes four times as long to make)."""

    generation: int
    slot: int
    sequence: int
    timestamp: int
    writtenNs: int
    announcedNs: int
    dropped: int
    deviceTimestamp: float | None
    dtype: np.dtype[Any]
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RingInfo:
    generation: int
    slotSize: int
    slotCount: int


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    """One message: its header (kind, payload length) and the payload."""
    return HEADER.pack(kind, len(payload)) + payload


@functools.lru_cache(maxsize=256)
def _dtypeToBytes(dtype: np.dtype[Any]) -> bytes:
    return repr(np.lib.format.dtype_to_descr(dtype)).encode()


@functools.lru_cache(maxsize=256)
def _dtypeFromBytes(raw: bytes) -> np.dtype[Any]:
    return np.lib.format.descr_to_dtype(ast.literal_eval(raw.decode()))


def encodeFrame(header: FrameHeader) -> bytes:
    """A FRAME message announcing a filled slot."""
    dtype = _dtypeToBytes(header.dtype)
    deviceTime = NO_DEVICE_TIME if header.deviceTimestamp is None else header.deviceTimestamp
    payload = (
        _FRAME.pack(
            header.generation,
            header.slot,
            header.sequence,
            header.timestamp,
            header.writtenNs,
            header.announcedNs,
            header.dropped,
            deviceTime,
            len(header.shape),
            len(dtype),
        )
        + _shapeStruct(len(header.shape)).pack(*header.shape)
        + dtype
    )
    return encode(Kind.FRAME, payload)


@functools.cache
def _shapeStruct(ndim: int) -> struct.Struct:
    return struct.Struct(f"<{ndim}Q")


def decodeFrame(payload: Any, offset: int = 0) -> FrameHeader:
    """The slot, stamps, dtype and shape a FRAME message announces (its payload at
    ``offset`` of ``payload``, any buffer)."""
    (generation, slot, sequence, timestamp, written, announced, dropped, deviceTime, ndim, dtypeLength) = (
        _FRAME.unpack_from(payload, offset)
    )
    shape = _shapeStruct(ndim).unpack_from(payload, offset + _FRAME.size)
    dtypeStart = offset + _FRAME.size + 8 * ndim
    return FrameHeader(
        generation,
        slot,
        sequence,
        timestamp,
        written,
        announced,
        dropped,
        None if deviceTime != deviceTime else deviceTime,
        _dtypeFromBytes(bytes(payload[dtypeStart : dtypeStart + dtypeLength])),
        shape,
    )


def encodeRing(info: RingInfo) -> bytes:
    """A NEW_RING message (the segment's fd travels beside it)."""
    return encode(Kind.NEW_RING, _RING.pack(info.generation, info.slotSize, info.slotCount))


def decodeRing(payload: bytes) -> RingInfo:
    """The ring a NEW_RING message describes."""
    return RingInfo(*_RING.unpack(payload))


def encodeRelease(generation: int, slot: int) -> bytes:
    """A RELEASE message: the reader is done with this slot."""
    return encode(Kind.RELEASE, _SLOT.pack(generation, slot))


def decodeRelease(payload: bytes) -> tuple[int, int]:
    """The (generation, slot) a RELEASE message gives back."""
    generation, slot = _SLOT.unpack(payload)
    return generation, slot


def encodeRetire(generation: int) -> bytes:
    """A RETIRE_RING message: the writer will not use this ring again."""
    return encode(Kind.RETIRE_RING, _GENERATION.pack(generation))


def decodeRetire(payload: bytes) -> int:
    """The generation a RETIRE_RING message retires."""
    (generation,) = _GENERATION.unpack(payload)
    return int(generation)


def encodeDropped(count: int) -> bytes:
    """A DROPPED message: the writer's running count of arrays dropped for want of a slot."""
    return encode(Kind.DROPPED, _COUNT.pack(count))


def decodeDropped(payload: bytes) -> int:
    """The count a DROPPED message carries."""
    (count,) = _COUNT.unpack(payload)
    return int(count)


def encodeProgramSlots(count: int) -> bytes:
    """A PROGRAM_SLOTS message: the slots that attached programs hold now."""
    return encode(Kind.PROGRAM_SLOTS, _COUNT.pack(count))


def encodeReady(value: bool) -> bytes:
    """A READY message carrying the child's new ready state."""
    return encode(Kind.READY, _FLAG.pack(value))


def decodeReady(payload: bytes) -> bool:
    """The ready state a READY message carries."""
    (value,) = _FLAG.unpack(payload)
    return bool(value)


def encodeProgram(kind: Kind, program: int, limit: int = 0) -> bytes:
    """A DIRECT_* message about attached program ``program`` (``limit``: frames it may hold)."""
    return encode(kind, _PROGRAM.pack(program, limit))


def decodeProgram(payload: bytes) -> tuple[int, int]:
    """The (program, limit) a DIRECT_* message carries."""
    program, limit = _PROGRAM.unpack(payload)
    return int(program), int(limit)


class MessageReader:
    """Reassembles messages from a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._start = 0
        self._fds: deque[int] = deque()

    def feed(self, data: bytes, fds: list[int] | None = None) -> None:
        """Adds received bytes (and the fds that came with them) to what is parsed next."""
        self._buffer += data
        if fds:
            self._fds.extend(fds)

    def messages(self) -> Iterator[tuple[Kind, bytes]]:
        """Yields every complete message received so far, in order."""
        buffer = self._buffer
        try:
            while len(buffer) - self._start >= HEADER.size:
                kind, length = HEADER.unpack_from(buffer, self._start)
                end = self._start + HEADER.size + length
                if len(buffer) < end:
                    break
                payload = bytes(buffer[self._start + HEADER.size : end])
                self._start = end
                if kind not in _KINDS:
                    raise RuntimeError(f"protocol error: unknown message kind {kind}")
                yield _KINDS[kind], payload
        finally:
            if self._start:
                del buffer[: self._start]
                self._start = 0

    def takeFd(self) -> int:
        """The oldest received file descriptor not yet taken."""
        if not self._fds:
            raise RuntimeError("protocol error: a NEW_RING message arrived without its segment fd")
        return self._fds.popleft()

    def closeFds(self) -> None:
        """Closes received fds that no message claimed (the peer went away mid-message)."""
        while self._fds:
            os.close(self._fds.popleft())
