"""The video jitter buffer hands a frame on when its marked last packet completes it, not a
frame later; aiortc's own buffer (the comparison) waits for the next frame's first packet."""

from __future__ import annotations

import asyncio

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from rtcbot.webrtc._jitterbuffer import MarkerJitterBuffer

from .peers import connectedPair


def _packet(sequence: int, timestamp: int, marker: bool, data: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=96, marker=int(marker), sequence_number=sequence, timestamp=timestamp)
    packet._data = data  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return packet


def _frame(first: int, timestamp: int, parts: list[bytes]) -> list[RtpPacket]:
    return [_packet(first + i, timestamp, i == len(parts) - 1, part) for i, part in enumerate(parts)]


def test_a_frame_leaves_with_its_last_packet_and_aiortcs_waits_for_the_next_frame() -> None:
    ours, aiortcs = MarkerJitterBuffer(512, is_video=True), JitterBuffer(512, is_video=True)
    first = _frame(100, 9000, [b"a", b"b", b"c"])
    ourOutput = [ours.add(packet)[1] for packet in first]
    aiortcOutput = [aiortcs.add(packet)[1] for packet in first]
    assert ourOutput[:2] == [None, None] and ourOutput[2] is not None
    assert (ourOutput[2].data, ourOutput[2].timestamp) == (b"abc", 9000)
    assert aiortcOutput == [None, None, None]
    following = _packet(103, 12000, False, b"d")
    assert ours.add(following)[1] is None  # already handed on: nothing twice
    late = aiortcs.add(following)[1]
    assert late is not None and late.data == b"abc"


def test_a_frame_with_a_missing_packet_waits_for_it_then_leaves() -> None:
    buffer = MarkerJitterBuffer(512, is_video=True)
    first, missing, last = _frame(7, 3000, [b"x", b"y", b"z"])
    assert buffer.add(first)[1] is None
    assert buffer.add(last)[1] is None  # the marker is there, the middle is not
    frame = buffer.add(missing)[1]  # a retransmission completes it
    assert frame is not None and frame.data == b"xyz"
    second = _frame(10, 6000, [b"1", b"2"])
    assert [buffer.add(packet)[1] is not None for packet in second] == [False, True]


async def test_every_video_receiver_of_a_connection_gets_it() -> None:
    def prepare(c1: object, c2: object) -> None:
        c1.video.subscribe()  # type: ignore[attr-defined]

    async with connectedPair(prepare) as (c1, c2):
        await asyncio.wait_for(c1.onReady(), 10)
        buffers = [t.receiver._RTCRtpReceiver__jitter_buffer for t in c1._rtc.getTransceivers() if t.kind == "video"]
    assert buffers and all(type(buffer) is MarkerJitterBuffer for buffer in buffers)
