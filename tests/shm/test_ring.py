"""Rings of slots: a SlotWriter wired straight to a SlotReader in one process.

The writer's messages go through a real MessageReader (as they would through the socket)
and are dispatched to the reader by the test; the reader's releases call writer.release.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from collections import deque
from typing import Any

import numpy as np
import pytest

from rtcbot.shm import Frame
from rtcbot.shm.protocol import (
    FrameHeader,
    Kind,
    MessageReader,
    RingInfo,
    decodeFrame,
    decodeRetire,
    decodeRing,
    encodeFrame,
)
from rtcbot.shm.ring import DEFAULT_SLOT_COUNT, MAX_SLOT_BYTES, Claim, SlotReader, SlotWriter, fitsInSlot
from rtcbot.shm.segment import PAGE_SIZE


class Link:
    """A writer and a reader joined by a MessageReader, as across a socket."""

    def __init__(self, label: str, slotCount: int = 3) -> None:
        self.label = label
        self.stream = MessageReader()
        self.kinds: list[Kind] = []
        self.rings: list[RingInfo] = []
        self.retired: list[int] = []
        self.headers: deque[FrameHeader] = deque()
        self.writer = SlotWriter(slotCount, label, self.send)
        self.reader = SlotReader(self.writer.release)

    def send(self, message: bytes, fd: int | None) -> None:
        # the writer closes its own fd once send returns, as a socket would have copied it
        self.stream.feed(message, None if fd is None else [os.dup(fd)])

    def pump(self) -> None:
        """Dispatches everything the writer sent so far."""
        for kind, payload in self.stream.messages():
            self.kinds.append(kind)
            if kind is Kind.NEW_RING:
                info = decodeRing(payload)
                self.rings.append(info)
                self.reader.addRing(info, self.stream.takeFd())
            elif kind is Kind.RETIRE_RING:
                generation = decodeRetire(payload)
                self.retired.append(generation)
                self.reader.retire(generation)
            elif kind is Kind.FRAME:
                self.headers.append(decodeFrame(payload))
            else:
                raise AssertionError(f"unexpected message {kind!r}")

    def announceUnread(self, shape: tuple[int, ...]) -> FrameHeader:
        """Claims a uint8 slot and announces it, keeping no array of it on this side."""
        claim = self.writer.claim(shape, np.dtype(np.uint8))
        assert claim is not None
        self.pump()
        return self.announce(claim)

    def announce(self, claim: Claim, sequence: int = 0, deviceTimestamp: float | None = None) -> FrameHeader:
        header = self.writer.header(claim, sequence, 1000 + sequence, 2000 + sequence, deviceTimestamp)
        self.send(encodeFrame(header), None)
        self.pump()
        received = self.headers.popleft()
        assert received == header
        return received

    def write(
        self, array: np.ndarray[Any, Any], sequence: int = 0, deviceTimestamp: float | None = None
    ) -> Frame | None:
        claim = self.writer.claim(array.shape, array.dtype)
        self.pump()
        if claim is None:
            return None
        claim.array[...] = array
        header = self.announce(claim, sequence, deviceTimestamp)
        del claim
        return self.reader.frame(header, time.monotonic_ns())

    def close(self) -> None:
        self.reader.close()
        self.writer.close()
        self.stream.closeFds()


_labels = iter(range(10**9))


@pytest.fixture
def link() -> Any:
    link = Link(f"ringtest{next(_labels)}")
    yield link
    link.close()


def mapsLines(needle: str) -> list[str]:
    with open("/proc/self/maps") as maps:
        return [line for line in maps if needle in line]


def mappingOf(address: int) -> str | None:
    with open("/proc/self/maps") as maps:
        for line in maps:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start <= address < end:
                return line
    return None


def ringName(link: Link, generation: int) -> str:
    return f"memfd:rtcbot-{os.getpid()}-{link.label}-{generation} "


# --- round trip -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype, shape",
    [
        ("|u1", (480, 640, 3)),
        ("<f4", (17,)),
        (">i2", (3, 5)),
        ("<c16", (2, 3, 4)),
        ("<f8", (1, 2, 3, 4)),
        ("|b1", (9,)),
        ("<u2", ()),
    ],
)
def test_roundTripGivesReadOnlyFrame(link: Link, dtype: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    values = np.asarray(rng.random(shape) * 100)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * np.asarray(rng.random(shape))
    source = values.astype(dtype)
    before = time.monotonic_ns()
    frame = link.write(source, sequence=42, deviceTimestamp=12.5)
    assert frame is not None
    assert type(frame) is Frame
    assert frame.dtype == np.dtype(dtype) and frame.dtype.str == np.dtype(dtype).str
    assert frame.shape == shape
    assert np.array_equal(frame, source)
    assert not frame.flags.writeable
    assert not frame.flags.owndata
    with pytest.raises(ValueError):
        frame[...] = 0
    with pytest.raises(ValueError):
        frame.flags.writeable = True
    assert frame.sequence == 42
    assert frame.timestamp == 1042
    assert frame.writtenNs == 2042
    assert before <= frame.announcedNs <= frame.receivedNs <= time.monotonic_ns()
    assert frame.deviceTimestamp == 12.5


def test_deviceTimestampNone(link: Link) -> None:
    frame = link.write(np.ones(4, np.uint8))
    assert frame is not None
    assert frame.deviceTimestamp is None


def test_messagesInOrder(link: Link) -> None:
    frame = link.write(np.ones(10, np.uint8))
    assert link.kinds == [Kind.NEW_RING, Kind.FRAME]
    assert link.rings == [RingInfo(0, PAGE_SIZE, 3)]
    del frame


def test_frameIsNotACopy(link: Link) -> None:
    claim = link.writer.claim((1000,), np.dtype("<i4"))
    assert claim is not None
    link.pump()
    claim.array[:] = np.arange(1000)
    header = link.announce(claim, sequence=1)
    frame = link.reader.frame(header, time.monotonic_ns())
    assert np.array_equal(frame, np.arange(1000))
    # writing through the writer's mapping shows in the frame: the same memory
    claim.array[500] = -7
    assert frame[500] == -7
    # the frame lies in the reader's read-only mapping of the rtcbot memfd
    line = mappingOf(frame.ctypes.data)
    assert line is not None
    assert "memfd:rtcbot-" in line
    assert ringName(link, 0).strip() in line
    assert line.split()[1].startswith("r-")  # read-only
    assert "w" not in line.split()[1]
    writerLine = mappingOf(claim.array.ctypes.data)
    assert writerLine is not None and ringName(link, 0).strip() in writerLine
    assert writerLine.split()[1].startswith("rw")
    del claim, frame


def test_slotsFilledInOrderAndOffsets(link: Link) -> None:
    frames = [link.write(np.full(100, i, np.uint8), sequence=i) for i in range(3)]
    assert all(frame is not None for frame in frames)
    addresses = [frame.ctypes.data for frame in frames if frame is not None]
    assert [b - a for a, b in itertools.pairwise(addresses)] == [PAGE_SIZE, PAGE_SIZE]
    for i, frame in enumerate(frames):
        assert frame is not None and (frame == i).all() and frame.sequence == i


def test_the_slot_released_last_is_written_next(link: Link) -> None:
    """A frame that dies frees the slot the next frame goes into (its memory is the most
    likely still cached), rather than the writer going round the whole ring."""
    first = link.write(np.full(64, 1, np.uint8), sequence=1)
    assert first is not None
    address = first.ctypes.data
    for sequence in range(2, 6):
        del first
        first = link.write(np.full(64, sequence, np.uint8), sequence=sequence)
        assert first is not None and first.ctypes.data == address and (first == sequence).all()
    held = link.write(np.zeros(64, np.uint8))
    assert held is not None and held.ctypes.data != address  # a held slot is never reused
    del first, held


# --- slots are never overwritten while held ------------------------------------------------


def test_heldSlotsAreNotHandedOutAgain(link: Link) -> None:
    frames = [link.write(np.full(8, i, np.uint8), sequence=i) for i in range(3)]
    assert link.writer.slotsHeld == 3
    assert link.writer.claim((8,), np.dtype(np.uint8)) is None
    assert link.writer.droppedSlotsFull == 1
    assert link.write(np.full(8, 99, np.uint8)) is None
    assert link.writer.droppedSlotsFull == 2
    for i, frame in enumerate(frames):
        assert frame is not None and (frame == i).all()  # untouched
    # one frame dies: exactly its slot comes back
    slotAddress = frames[1].ctypes.data  # type: ignore[union-attr]
    frames[1] = None
    assert link.writer.slotsHeld == 2
    replacement = link.write(np.full(8, 7, np.uint8), sequence=7)
    assert replacement is not None
    assert replacement.ctypes.data == slotAddress
    assert (replacement == 7).all()
    assert (frames[0] == 0).all() and (frames[2] == 2).all()  # type: ignore[union-attr]
    # the announcement carries the writer's drop count
    assert link.writer.claim((8,), np.dtype(np.uint8)) is None
    assert link.writer.droppedSlotsFull == 3
    del frames, replacement, frame  # (the loop variable holds the last frame)
    assert link.writer.slotsHeld == 0


def test_droppedCountInHeader(link: Link) -> None:
    frames = [link.write(np.zeros(4, np.uint8)) for _ in range(3)]
    assert link.write(np.zeros(4, np.uint8)) is None
    frames.pop()
    claim = link.writer.claim((4,), np.dtype(np.uint8))
    assert claim is not None
    link.pump()
    assert link.announce(claim).dropped == 1
    link.writer.unclaim(claim)
    del claim, frames


@pytest.mark.parametrize(
    "derive",
    [
        lambda f: f[1:],
        lambda f: f[::2][1:],  # a view of a view
        lambda f: f.reshape(2, -1).T,
        lambda f: np.asarray(f),  # a plain-ndarray view
        lambda f: np.asarray(f)[2:5],  # a view of a plain-ndarray view
        lambda f: f.view(np.int8),
        lambda f: memoryview(f),
    ],
    ids=["slice", "viewOfView", "reshapeT", "asarray", "asarraySlice", "viewDtype", "memoryview"],
)
def test_derivedViewsKeepTheLease(link: Link, derive: Any) -> None:
    frame = link.write(np.arange(12, dtype=np.uint8))
    assert frame is not None
    view = derive(frame)
    expectedContent = bytes(np.ascontiguousarray(np.asarray(view)))
    del frame
    gc.collect()
    assert link.writer.slotsHeld == 1
    assert link.reader.inUse == 1
    assert bytes(np.ascontiguousarray(np.asarray(view))) == expectedContent  # still readable
    del view
    assert link.writer.slotsHeld == 0
    assert link.reader.inUse == 0


def test_viewsCarryMetadataButNotTheLease(link: Link) -> None:
    frame = link.write(np.arange(12, dtype=np.uint8), sequence=9, deviceTimestamp=3.5)
    assert frame is not None
    view = frame[3:]
    assert type(view) is Frame
    assert (view.sequence, view.timestamp, view.deviceTimestamp) == (9, frame.timestamp, 3.5)
    assert view._lease is None and frame._lease is not None
    assert not view.flags.writeable
    del frame, view


def test_copyIsWritableAndHoldsNoLease(link: Link) -> None:
    frame = link.write(np.arange(6, dtype=np.int16), sequence=4)
    assert frame is not None
    copy = frame.copy()
    assert copy.flags.writeable and copy.flags.owndata
    assert copy._lease is None
    assert copy.sequence == 4
    del frame
    assert link.writer.slotsHeld == 0  # released though the copy lives
    copy[0] = 100
    assert copy.tolist() == [100, 1, 2, 3, 4, 5]
    # the slot is reused and overwritten; the copy is unaffected
    other = link.write(np.full(6, -1, np.int16))
    assert other is not None
    assert copy.tolist() == [100, 1, 2, 3, 4, 5]
    del other


# --- generations ---------------------------------------------------------------------


def test_biggerArrayStartsNewGenerationAndRetiresOldWhenFree(link: Link) -> None:
    small = [link.write(np.full(100, i, np.uint8), sequence=i) for i in range(2)]
    assert link.rings == [RingInfo(0, PAGE_SIZE, 3)]
    bigSize = 3 * PAGE_SIZE + 1
    big = link.write(np.full(bigSize, 5, np.uint8), sequence=5)
    assert big is not None
    assert link.rings == [RingInfo(0, PAGE_SIZE, 3), RingInfo(1, 4 * PAGE_SIZE, 3)]
    assert link.retired == []  # two of its slots are still held
    assert link.writer.slotsHeld == 3
    # old frames stay valid and readable
    assert (small[0] == 0).all() and (small[1] == 1).all()  # type: ignore[union-attr]
    assert (big == 5).all()
    # small arrays now go into the new, bigger ring
    later = link.write(np.full(100, 8, np.uint8), sequence=8)
    assert later is not None
    assert ringName(link, 1).strip() in (mappingOf(later.ctypes.data) or "")
    assert link.kinds.count(Kind.NEW_RING) == 2
    small.pop(0)
    link.pump()
    assert link.retired == []
    assert (small[0] == 1).all()  # type: ignore[index]
    small.clear()
    link.pump()
    assert link.retired == [0]
    assert link.kinds[-1] is Kind.RETIRE_RING
    assert link.writer.slotsHeld == 2
    gc.collect()
    assert mapsLines(ringName(link, 0)) == []  # unmapped on both sides
    assert len(mapsLines(ringName(link, 1))) == 2  # writer and reader
    del big, later


def test_growingWithNoHeldSlotsRetiresAtOnce(link: Link) -> None:
    frame = link.write(np.zeros(10, np.uint8))
    del frame
    big = link.write(np.ones(2 * PAGE_SIZE, np.uint8))
    assert big is not None
    assert link.kinds == [Kind.NEW_RING, Kind.FRAME, Kind.NEW_RING, Kind.RETIRE_RING, Kind.FRAME]
    assert link.retired == [0]
    gc.collect()
    assert mapsLines(ringName(link, 0)) == []
    del big


def test_severalGenerations(link: Link) -> None:
    frames = []
    for generation in range(4):
        frame = link.write(np.full((generation + 1) * PAGE_SIZE, generation, np.uint8), sequence=generation)
        assert frame is not None
        frames.append(frame)
    assert [info.generation for info in link.rings] == [0, 1, 2, 3]
    assert [info.slotSize for info in link.rings] == [PAGE_SIZE * (g + 1) for g in range(4)]
    assert link.retired == []
    for generation, frame in enumerate(frames):
        assert (frame == generation).all()
    del frame
    frames[2] = None  # type: ignore[call-overload]
    link.pump()
    assert link.retired == [2]
    frames.clear()
    link.pump()
    assert sorted(link.retired) == [0, 1, 2]  # the current ring is never retired
    assert link.writer.slotsHeld == 0


# --- counters --------------------------------------------------------------------------


def test_counters(link: Link) -> None:
    writer, reader = link.writer, link.reader
    assert (writer.slotsHeld, reader.inUse, reader.peakInUse, writer.droppedSlotsFull) == (0, 0, 0, 0)
    claim = writer.claim((4,), np.dtype(np.uint8))
    assert claim is not None
    link.pump()
    assert writer.slotsHeld == 1  # claimed counts as held
    writer.unclaim(claim)
    del claim
    assert writer.slotsHeld == 0
    a = link.write(np.zeros(4, np.uint8))
    b = link.write(np.zeros(4, np.uint8))
    assert (writer.slotsHeld, reader.inUse, reader.peakInUse) == (2, 2, 2)
    del a
    assert (writer.slotsHeld, reader.inUse, reader.peakInUse) == (1, 1, 2)
    c = link.write(np.zeros(4, np.uint8))
    d = link.write(np.zeros(4, np.uint8))
    assert (writer.slotsHeld, reader.inUse, reader.peakInUse) == (3, 3, 3)
    del b, c, d
    assert (writer.slotsHeld, reader.inUse, reader.peakInUse) == (0, 0, 3)


def test_discardReleasesAtOnce(link: Link) -> None:
    header = link.announceUnread((4,))
    assert link.writer.slotsHeld == 1
    link.reader.discard(header)
    assert link.writer.slotsHeld == 0
    assert link.reader.inUse == 0


def test_releaseOfUnknownGenerationIsIgnored(link: Link) -> None:
    frame = link.write(np.zeros(4, np.uint8))
    link.writer.release(99, 0)
    assert link.writer.slotsHeld == 1
    del frame


def test_defaultSlotCount() -> None:
    assert DEFAULT_SLOT_COUNT >= 2


# --- limits and validation -------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fits",
    [
        (np.zeros(3, np.uint8), True),
        (np.zeros((2, 2), ">f8"), True),
        (np.zeros(2, np.complex64), True),
        (np.zeros(2, bool), True),
        (np.zeros(2, "<M8[ns]"), True),
        (np.zeros(2, "<m8[s]"), True),
        (np.zeros(2, "S3"), True),
        (np.zeros(2, "U3"), True),
        (np.array(5.0), True),  # 0-d: one element
        (np.zeros(0, np.uint8), False),
        (np.zeros((3, 0), np.float32), False),
        (np.array([1, "a"], dtype=object), False),
        (np.zeros(2, dtype=[("a", "O"), ("b", "<i4")]), False),
        ([1, 2, 3], False),
        (b"bytes", False),
        (5, False),
        (None, False),
        (np.float32(1.0), False),  # numpy scalar, not an array
    ],
)
def test_fitsInSlot(value: object, fits: bool) -> None:
    assert fitsInSlot(value) is fits


@pytest.mark.parametrize("shape", [(MAX_SLOT_BYTES + 1,), (1 << 16, 1 << 16), (MAX_SLOT_BYTES // 8 + 1, 8)])
def test_claimTooLargeRaisesClearly(shape: tuple[int, ...]) -> None:
    sent: list[bytes] = []
    writer = SlotWriter(2, "toolarge", lambda message, fd: sent.append(message))
    try:
        with pytest.raises(
            ValueError, match=r"larger than the 1,073,741,824 bytes \(1 GiB\) a shared-memory slot may hold"
        ):
            writer.claim(shape, np.dtype(np.uint8))
        with pytest.raises(ValueError, match=r"shape"):
            writer.claim(shape, np.dtype(np.uint8))
        assert sent == []  # no ring was made
        assert writer.droppedSlotsFull == 0
    finally:
        writer.close()


def test_claimTooLargeCountsItemsize() -> None:
    writer = SlotWriter(1, "itemsize", lambda message, fd: None)
    try:
        with pytest.raises(ValueError, match="1,073,741,828 bytes"):
            writer.claim((MAX_SLOT_BYTES // 4 + 1,), np.dtype("<f4"))
    finally:
        writer.close()


@pytest.mark.parametrize("count", [0, -1])
def test_slotWriterNeedsASlot(count: int) -> None:
    with pytest.raises(ValueError, match=f"slotCount must be at least 1, got {count}"):
        SlotWriter(count, "bad", lambda message, fd: None)


def test_singleSlotRing() -> None:
    link = Link("single", slotCount=1)
    try:
        frame = link.write(np.ones(3, np.uint8))
        assert frame is not None
        assert link.write(np.ones(3, np.uint8)) is None
        del frame
        again = link.write(np.full(3, 2, np.uint8))
        assert again is not None and (again == 2).all()
        del again
    finally:
        link.close()


# --- closing -----------------------------------------------------------------------------


def test_readerCloseStopsReleases(link: Link) -> None:
    frame = link.write(np.arange(5, dtype=np.uint8))
    header = link.announceUnread((5,))
    assert link.writer.slotsHeld == 2
    link.reader.close()
    assert frame is not None and frame.tolist() == [0, 1, 2, 3, 4]  # still readable
    del frame
    link.reader.discard(header)
    assert link.writer.slotsHeld == 2  # nothing was sent back
    assert link.reader.inUse == 0


def test_framesOutliveBothEnds(link: Link) -> None:
    frame = link.write(np.arange(100, dtype=np.int32))
    link.writer.close()
    link.reader.close()
    gc.collect()
    assert frame is not None
    assert frame.tolist() == list(range(100))
    assert len(mapsLines(ringName(link, 0))) == 1  # only the reader's mapping is left
    del frame
    gc.collect()
    assert mapsLines(ringName(link, 0)) == []


def test_structuredArrayRoundTrip(link: Link) -> None:
    source = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])
    source["a"] = [1, 2, 3]
    source["b"] = [0.5, 1.5, 2.5]
    assert fitsInSlot(source)
    frame = link.write(source)
    assert frame is not None
    try:
        assert frame.dtype == source.dtype
        assert frame["a"].tolist() == [1, 2, 3]
    finally:
        del frame
