"""The socket protocol of the shared-memory transport: message encoding and reassembly."""

from __future__ import annotations

import math
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcbot.shm.protocol import (
    HEADER,
    FrameHeader,
    Kind,
    MessageReader,
    RingInfo,
    decodeDropped,
    decodeFrame,
    decodeReady,
    decodeRelease,
    decodeRetire,
    decodeRing,
    encode,
    encodeDropped,
    encodeFrame,
    encodeReady,
    encodeRelease,
    encodeRetire,
    encodeRing,
)

from .fds import isOpen

# Hypothesis must not write an example database into the repository.
SETTINGS = settings(max_examples=40, deadline=None, database=None)


def split(message: bytes) -> tuple[Kind, bytes]:
    """The kind and payload of one encoded message, checking its length field."""
    kind, length = HEADER.unpack_from(message)
    payload = message[HEADER.size :]
    assert len(payload) == length
    return Kind(kind), payload


def frameHeader(**changes: object) -> FrameHeader:
    fields: dict[str, object] = dict(
        generation=3,
        slot=5,
        sequence=2**40 + 7,
        timestamp=123_456_789_012,
        writtenNs=123_456_789_999,
        announcedNs=123_456_790_500,
        dropped=11,
        deviceTimestamp=None,
        dtype=np.dtype("<f4"),
        shape=(480, 640, 3),
    )
    fields.update(changes)
    return FrameHeader(**fields)  # type: ignore[arg-type]


# --- encode / decode pairs ----------------------------------------------------------


def test_encodeWrapsPayloadInHeader() -> None:
    message = encode(Kind.ITEM, b"hello")
    assert message == HEADER.pack(Kind.ITEM, 5) + b"hello"
    assert split(message) == (Kind.ITEM, b"hello")
    assert split(encode(Kind.CLOSE)) == (Kind.CLOSE, b"")


@pytest.mark.parametrize(
    "dtype",
    [
        "<f4",
        "|u1",
        ">i2",
        "<i8",
        ">f8",
        "<c8",
        "<c16",
        ">c16",
        "|b1",
        "|i1",
        "<u2",
        "<f2",
        "<M8[ns]",
        "<m8[s]",
        "|S5",
        "<U7",
        "|V3",
    ],
)
@pytest.mark.parametrize("shape", [(7,), (480, 640), (2, 3, 4), (1, 2, 3, 4)])
def test_frameHeaderRoundTrips(dtype: str, shape: tuple[int, ...]) -> None:
    header = frameHeader(dtype=np.dtype(dtype), shape=shape)
    kind, payload = split(encodeFrame(header))
    assert kind is Kind.FRAME
    decoded = decodeFrame(payload)
    assert decoded == header
    assert decoded.dtype.str == np.dtype(dtype).str  # byte order kept too
    assert type(decoded.shape) is tuple and all(type(n) is int for n in decoded.shape)


@pytest.mark.parametrize("deviceTimestamp", [None, 0.0, 1.5, -2.25, 1.7e9 + 0.123456, 1e-300])
def test_frameHeaderDeviceTimestamp(deviceTimestamp: float | None) -> None:
    decoded = decodeFrame(split(encodeFrame(frameHeader(deviceTimestamp=deviceTimestamp)))[1])
    if deviceTimestamp is None:
        assert decoded.deviceTimestamp is None
    else:
        assert decoded.deviceTimestamp == deviceTimestamp
        assert isinstance(decoded.deviceTimestamp, float)


def test_frameHeaderExtremeIntegers() -> None:
    header = frameHeader(
        generation=2**32 - 1,
        slot=2**32 - 1,
        sequence=2**64 - 1,
        timestamp=2**64 - 1,
        writtenNs=0,
        announcedNs=2**63,
        dropped=2**64 - 1,
        shape=(2**40, 1),
    )
    assert decodeFrame(split(encodeFrame(header))[1]) == header


def test_frameHeaderAcceptsNumpyIntegerShape() -> None:
    """Shapes taken from arrays may hold numpy integers; they decode as plain ints."""
    header = frameHeader(shape=(np.int64(4), np.intp(5)))
    assert decodeFrame(split(encodeFrame(header))[1]).shape == (4, 5)


@given(
    dtype=st.sampled_from(["<f4", "|u1", ">i2", "<c8", ">c16", "<u8", "|b1", ">f2"]),
    shape=st.lists(st.integers(1, 2**31), min_size=1, max_size=4).map(tuple),
    numbers=st.tuples(
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        *[st.integers(0, 2**64 - 1)] * 5,
    ),
    deviceTimestamp=st.none() | st.floats(allow_nan=False),
)
@SETTINGS
def test_frameHeaderRoundTripsProperty(
    dtype: str, shape: tuple[int, ...], numbers: tuple[int, ...], deviceTimestamp: float | None
) -> None:
    header = FrameHeader(*numbers, deviceTimestamp, np.dtype(dtype), shape)  # type: ignore[arg-type]
    assert decodeFrame(split(encodeFrame(header))[1]) == header


@pytest.mark.parametrize("dtype", ["<U1000000", "|S1000000", "<M8[25us]"])
def test_frameHeaderLongDtypeStringRoundTrips(dtype: str) -> None:
    header = frameHeader(dtype=np.dtype(dtype), shape=(2,))
    assert decodeFrame(split(encodeFrame(header))[1]).dtype == np.dtype(dtype)


def test_frameHeaderStructuredDtypeRoundTrips() -> None:
    dtype = np.dtype([("a", "<i4"), ("b", "<f8")])
    header = frameHeader(dtype=dtype, shape=(4,))
    assert decodeFrame(split(encodeFrame(header))[1]).dtype == dtype


@pytest.mark.parametrize("info", [RingInfo(0, 4096, 6), RingInfo(2**32 - 1, 2**40, 2**32 - 1), RingInfo(7, 1 << 30, 1)])
def test_ringInfoRoundTrips(info: RingInfo) -> None:
    kind, payload = split(encodeRing(info))
    assert kind is Kind.NEW_RING
    assert decodeRing(payload) == info


@pytest.mark.parametrize("generation, slot", [(0, 0), (3, 5), (2**32 - 1, 2**32 - 1)])
def test_releaseRoundTrips(generation: int, slot: int) -> None:
    kind, payload = split(encodeRelease(generation, slot))
    assert kind is Kind.RELEASE
    assert decodeRelease(payload) == (generation, slot)


@pytest.mark.parametrize("generation", [0, 1, 2**32 - 1])
def test_retireRoundTrips(generation: int) -> None:
    kind, payload = split(encodeRetire(generation))
    assert kind is Kind.RETIRE_RING
    assert decodeRetire(payload) == generation


@pytest.mark.parametrize("value", [True, False])
def test_readyRoundTrips(value: bool) -> None:
    kind, payload = split(encodeReady(value))
    assert kind is Kind.READY
    assert decodeReady(payload) is value


@pytest.mark.parametrize("count", [0, 1, 2**64 - 1])
def test_droppedRoundTrips(count: int) -> None:
    kind, payload = split(encodeDropped(count))
    assert kind is Kind.DROPPED
    assert decodeDropped(payload) == count


def test_encodersRejectOutOfRangeValues() -> None:
    with pytest.raises(struct.error):
        encodeRelease(-1, 0)
    with pytest.raises(struct.error):
        encodeRetire(2**32)
    with pytest.raises(struct.error):
        encodeDropped(-1)


def test_nanDeviceTimestampConstantIsNan() -> None:
    from rtcbot.shm.protocol import NO_DEVICE_TIME

    assert math.isnan(NO_DEVICE_TIME)


# --- MessageReader ------------------------------------------------------------------


def sampleMessages() -> list[bytes]:
    return [
        encodeFrame(frameHeader()),
        encodeRing(RingInfo(1, 8192, 6)),
        encode(Kind.ITEM, bytes(range(256)) * 3),
        encodeRelease(1, 4),
        encode(Kind.CLOSE),
        encodeReady(True),
        encodeDropped(99),
        encodeRetire(0),
        encode(Kind.ITEM, b""),
        encode(Kind.ERROR, b"x" * 70_000),
    ]


def expected(messages: list[bytes]) -> list[tuple[Kind, bytes]]:
    return [split(message) for message in messages]


def test_readerYieldsWholeMessagesInOrder() -> None:
    messages = sampleMessages()
    reader = MessageReader()
    reader.feed(b"".join(messages))
    assert list(reader.messages()) == expected(messages)
    assert list(reader.messages()) == []


def test_readerNothingBeforeFeed() -> None:
    assert list(MessageReader().messages()) == []


def test_readerOneByteAtATime() -> None:
    messages = sampleMessages()[:6]
    stream = b"".join(messages)
    reader = MessageReader()
    received: list[tuple[Kind, bytes]] = []
    for index in range(len(stream)):
        reader.feed(stream[index : index + 1])
        received.extend(reader.messages())
    assert received == expected(messages)


def test_readerKeepsIncompleteTail() -> None:
    first, second = encode(Kind.ITEM, b"first"), encode(Kind.ITEM, b"second message")
    reader = MessageReader()
    reader.feed(first + second[:3])  # not even a whole header of the second
    assert list(reader.messages()) == [(Kind.ITEM, b"first")]
    assert list(reader.messages()) == []
    reader.feed(second[3:9])  # header complete, payload not
    assert list(reader.messages()) == []
    reader.feed(second[9:])
    assert list(reader.messages()) == [(Kind.ITEM, b"second message")]
    assert list(reader.messages()) == []


def test_readerStoppedIterationKeepsTheRest() -> None:
    """A consumer that stops early (breaks) gets the remaining messages on the next call."""
    messages = sampleMessages()
    reader = MessageReader()
    reader.feed(b"".join(messages))
    iterator = reader.messages()
    got = [next(iterator), next(iterator)]
    iterator.close()
    got.extend(reader.messages())
    assert got == expected(messages)


@given(
    data=st.data(),
    picks=st.lists(st.integers(0, 9), min_size=1, max_size=12),
)
@SETTINGS
def test_readerReassemblesRandomSplits(data: st.DataObject, picks: list[int]) -> None:
    pool = sampleMessages()
    messages = [pool[i] for i in picks]
    stream = b"".join(messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    reader = MessageReader()
    received: list[tuple[Kind, bytes]] = []
    consumed = 0
    for piece in pieces:
        reader.feed(piece)
        consumed += len(piece)
        received.extend(reader.messages())
        # exactly the messages wholly inside the bytes fed so far have come out
        complete = 0
        total = 0
        for message in messages:
            if total + len(message) > consumed:
                break
            total += len(message)
            complete += 1
        assert received == expected(messages[:complete])
    assert received == expected(messages)


def pipeFds(count: int) -> tuple[list[int], list[int]]:
    """``count`` pipes: their read ends and their write ends."""
    reads, writes = [], []
    for _ in range(count):
        r, w = os.pipe()
        reads.append(r)
        writes.append(w)
    return reads, writes


def test_takeFdInArrivalOrder() -> None:
    reads, writes = pipeFds(3)
    try:
        reader = MessageReader()
        reader.feed(encodeRing(RingInfo(0, 4096, 1)), [reads[0]])
        reader.feed(b"", [reads[1], reads[2]])
        assert [reader.takeFd() for _ in range(3)] == reads
        with pytest.raises(RuntimeError, match="without its segment fd"):
            reader.takeFd()
    finally:
        for fd in reads + writes:
            os.close(fd)


def test_takeFdWithoutFdRaises() -> None:
    reader = MessageReader()
    reader.feed(encodeRing(RingInfo(0, 4096, 1)))
    assert [kind for kind, _ in reader.messages()] == [Kind.NEW_RING]
    with pytest.raises(RuntimeError, match="protocol error: a NEW_RING message arrived without its segment fd"):
        reader.takeFd()


def test_closeFdsClosesOnlyUnclaimed() -> None:
    reads, writes = pipeFds(3)
    try:
        reader = MessageReader()
        reader.feed(b"", reads)
        taken = reader.takeFd()
        assert taken == reads[0]
        reader.closeFds()
        assert isOpen(taken)
        for fd in reads[1:]:
            with pytest.raises(OSError):
                os.fstat(fd)
        with pytest.raises(RuntimeError):
            reader.takeFd()
        reader.closeFds()  # nothing left: a no-op
    finally:
        os.close(reads[0])
        for fd in writes:
            os.close(fd)
