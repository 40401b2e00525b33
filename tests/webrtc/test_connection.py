"""Two RTCConnections in one process, over real WebRTC (aiortc): messages, channels, video
and audio, and what bad input does."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import rtcbot
from rtcbot import Frame, SyntheticCamera, SyntheticMicrophone
from rtcbot.webrtc import DataChannel, RenegotiationNeeded, RTCConnection

from ..devices.audiocheck import measureTone
from .peers import connectedPair, patternError, signal

pytestmark = pytest.mark.loop_timeout(30)


async def test_messages_go_both_ways_in_order_including_those_put_before_connecting() -> None:
    messages = ["text", 42, 2.5, True, None, [1, "two"], {"nested": {"list": [1, 2]}}, b"\x00\xffbytes"]
    c1, c2 = RTCConnection(), RTCConnection()
    for index, message in enumerate(messages):
        c1.put_nowait(message)
        c2.send({"index": index})
    try:
        await signal(c1, c2)
        await asyncio.wait_for(asyncio.gather(c1.onReady(), c2.onReady()), 10)
        for number in range(200):
            c1.put_nowait(number)
        received1 = [await asyncio.wait_for(c2.get(), 10) for _ in range(len(messages) + 200)]
        received2 = [await asyncio.wait_for(c1.get(), 10) for _ in messages]
    finally:
        await c1.close()
        await c2.close()
    assert received1 == messages + list(range(200))
    assert received2 == [{"index": index} for index in range(len(messages))]
    assert c1.closed and c2.closed and not c1.ready


async def test_a_message_that_cannot_be_sent_is_refused_at_once_and_loses_nothing() -> None:
    async with connectedPair() as (c1, c2):
        c1.put_nowait("before")
        with pytest.raises(TypeError, match="JSON value"):
            c1.put_nowait({"a set": {1, 2}})
        with pytest.raises(TypeError, match="JSON value"):
            c1.put_nowait(float("nan"))
        c1.put_nowait("after")
        assert [await asyncio.wait_for(c2.get(), 10) for _ in range(2)] == ["before", "after"]


async def test_more_data_channels_open_on_the_other_side_and_carry_their_own_messages() -> None:
    channels: list[DataChannel] = []

    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        channels.append(c1.addDataChannel("control"))
        with pytest.raises(KeyError, match="already exists"):
            c1.addDataChannel("control")

    async with connectedPair(prepare) as (c1, c2):
        arrived = await asyncio.wait_for(c2.onDataChannel().get(), 10)
        assert arrived.name == "control" and c2.getDataChannel("control") is arrived
        with pytest.raises(KeyError, match="default channel"):
            c2.getDataChannel("default")
        channels[0].put_nowait({"drive": "left"})
        c1.put_nowait("on the default channel")
        assert await asyncio.wait_for(arrived.get(), 10) == {"drive": "left"}
        assert await asyncio.wait_for(c2.get(), 10) == "on the default channel"
        arrived.put_nowait("ack")
        assert await asyncio.wait_for(channels[0].get(), 10) == "ack"
        assert channels[0].statistics().messagesSent == 1 and arrived.statistics().messagesReceived == 1


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_camera_frames_arrive_decoded_with_the_test_pattern(codec: str) -> None:
    camera = SyntheticCamera(width=320, height=240, fps=30)

    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        c1.video.putSubscription(camera)
        c2.video.subscribe()  # the answerer asks for nothing: the offer decides

    try:
        async with connectedPair(prepare, videoCodec=codec) as (c1, c2):
            description = c2._rtc.remoteDescription.sdp
            assert f"{codec}/90000" in description and ({"VP8", "H264"} - {codec}).pop() not in description
            frames = c2.video.subscribe()
            numbers, errors = [], []
            for _ in range(20):
                picture = await asyncio.wait_for(frames.get(), 10)
                assert isinstance(picture, Frame) and picture.shape == (240, 320, 3)
                assert picture.receivedNs > 0
                number, error = patternError(picture)
                assert number is not None, "a torn picture"
                numbers.append(number)
                errors.append(error)
            statistics = c1.video.statistics()
    finally:
        camera.close()
        await camera
    assert numbers == sorted(set(numbers)), f"frames out of order or repeated: {numbers}"
    assert max(errors) < 12, f"decoded pictures differ from the pattern by {max(errors):.1f} levels on average"
    assert statistics.framesSent >= 20 and statistics.badItems == 0


async def test_video_is_resized_and_limited_to_the_frame_rate_asked_for() -> None:
    camera = SyntheticCamera(width=320, height=240, fps=30)

    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        c1.video.putSubscription(camera)

    try:
        c1 = RTCConnection(videoSize=(160, 128), fps=10)
        c2 = RTCConnection()
        prepare(c1, c2)
        await signal(c1, c2)
        frames = c2.video.subscribe()
        first = await asyncio.wait_for(frames.get(), 10)
        times = [first.receivedNs]
        for _ in range(10):
            times.append((await asyncio.wait_for(frames.get(), 10)).receivedNs)
        assert first.shape == (128, 160, 3)
        rate = 10 / ((times[-1] - times[0]) / 1e9)
        assert 6 < rate < 13, f"received {rate:.1f} frames per second, asked for 10"
        assert c1.video.statistics().framesSkipped >= 5
    finally:
        await c1.close()
        await c2.close()
        camera.close()
        await camera


async def test_a_tone_sent_as_audio_comes_back_at_its_frequency() -> None:
    microphone = SyntheticMicrophone(frequency=1000, amplitude=0.4, blocksize=960)

    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        c1.audio.putSubscription(microphone)
        c2.audio.subscribe()

    try:
        async with connectedPair(prepare) as (c1, c2):
            blocks = c2.audio.subscribe()
            received = [await asyncio.wait_for(blocks.get(), 10) for _ in range(75)]  # 1.5 s
    finally:
        microphone.close()
        await microphone
    assert all(isinstance(b, Frame) and b.dtype == np.float32 and b.shape[1] == 2 for b in received)
    left = np.concatenate([b[:, 0] for b in received])
    tone = await asyncio.to_thread(measureTone, left, 48000, 0.4)
    assert tone.frequency == pytest.approx(1000, rel=0.01)
    assert tone.amplitude == pytest.approx(0.4, rel=0.15)


async def test_a_track_added_after_signalling_is_a_clear_error() -> None:
    async with connectedPair() as (c1, c2):
        with pytest.raises(RenegotiationNeeded, match="before getLocalDescription"):
            c1.video.put_nowait(np.zeros((48, 64, 3), np.uint8))


async def test_a_bad_description_is_refused_and_the_connection_still_connects() -> None:
    c1, c2 = RTCConnection(), RTCConnection()
    try:
        with pytest.raises(ValueError, match="session description is a dict"):
            await c2.getLocalDescription({"sdp": "v=0"})
        with pytest.raises(ValueError, match="not SDP with media"):
            await c2.setRemoteDescription({"type": "offer", "sdp": "this is not SDP"})
        offer = await c1.getLocalDescription()
        broken = "\r\n".join(line for line in offer["sdp"].split("\r\n") if not line.startswith("a=ice-pwd"))
        with pytest.raises(ValueError, match="offer was refused: ICE username fragment or password"):
            await c2.setRemoteDescription({"type": "offer", "sdp": broken})
        await c1.setRemoteDescription(await c2.getLocalDescription(offer))
        c1.put_nowait("still works")
        assert await asyncio.wait_for(c2.get(), 10) == "still works"
    finally:
        await c1.close()
        await c2.close()


def test_an_unknown_codec_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="VP8, H264"):
        RTCConnection(videoCodec="AV1")


async def test_closing_one_side_closes_the_other_and_ends_its_reads() -> None:
    async with connectedPair() as (c1, c2):
        await asyncio.wait_for(asyncio.gather(c1.onReady(), c2.onReady()), 10)
        pending = asyncio.ensure_future(c2.get())
        await c1.close()
        await asyncio.wait_for(c2.onClose(), 10)
        with pytest.raises(rtcbot.SubscriptionClosed):
            await asyncio.wait_for(pending, 10)


def test_a_camera_frame_reaches_the_encoder_without_a_copy() -> None:
    from rtcbot.webrtc._conversions import toVideoFrame

    picture = np.zeros((48, 64, 3), np.uint8)
    frame = toVideoFrame(picture)
    plane = np.frombuffer(frame.planes[0], np.uint8)
    assert plane.__array_interface__["data"][0] == picture.__array_interface__["data"][0]
    assert (frame.width, frame.height, frame.format.name) == (64, 48, "bgr24")
    with pytest.raises(ValueError, match="uint8 array of shape"):
        toVideoFrame(np.zeros((48, 64, 3), np.float32))


async def test_the_video_bitrate_asked_for_caps_the_encoder() -> None:
    picture = np.zeros((240, 320, 3), np.uint8)

    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        c1.video.put_nowait(picture)
        c2.video.subscribe()

    async with connectedPair(prepare, videoCodec="VP8", videoBitrate=300_000) as (c1, c2):
        frames = c2.video.subscribe()
        for _ in range(10):
            c1.video.put_nowait(picture)
            await asyncio.wait_for(frames.get(), 10)
        (sender,) = [t.sender for t in c1._rtc.getTransceivers() if t.kind == "video"]
        encoder = sender._RTCRtpSender__encoder
        assert encoder is not None and encoder.target_bitrate <= 300_000


@pytest.mark.parametrize(
    "options, message",
    [
        ({"videoBitrate": 300_000}, "videoBitrate needs videoCodec"),
        ({"videoCodec": "VP8", "videoBitrate": 5_000_000}, "from 250000 to 1500000"),
        ({"videoCodec": "H264", "videoBitrate": 300_000}, "from 500000 to 3000000"),
    ],
)
def test_a_bitrate_the_encoder_cannot_take_is_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RTCConnection(**options)  # type: ignore[arg-type]
