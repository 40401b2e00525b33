"""Media tracks: frames from the pipeline to aiortc's encoder, and from aiortc's decoder
back into the pipeline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from ..base import SubscriptionClosed, SubscriptionProducer
from ..shm import Frame
from ._conversions import (
    VIDEO_TIME_BASE,
    BadMediaItem,
    MediaClock,
    captureTime,
    fromAudioFrame,
    fromVideoFrame,
    toAudioFrame,
    toVideoFrame,
)

_log = logging.getLogger("rtcbot.RTCConnection")

#: Where aiortc 1.x keeps a sender's encoder (a private, name-mangled attribute).
_SENDER_ENCODER = "_RTCRtpSender__encoder"


class SendingTrack(MediaStreamTrack):
    """What aiortc encodes and sends: each ``recv()`` awaits the next item of ``source``.

    The encoder asks for a frame only when it finished the previous one, so with a source
    that keeps only the newest item (a camera's default subscription) a slow encoder or link
    skips frames instead of queueing them. With ``canSkip``, a source that still holds items
    (a queue) is read down to its newest. Skipped frames are counted from the gaps in the
    frames' sequence numbers. Video is resized to ``size`` (width, height) when given, sent
    at most ``fps`` times a second when given, and encoded at most at ``bitrate`` bits per
    second when given (the receiver's estimate can still lower it).
    """

    def __init__(
        self,
        kind: str,
        source: Callable[[], Awaitable[Any]],
        *,
        sampleRate: int = 48000,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
        canSkip: bool = True,
        drain: Callable[[], Any] | None = None,
        bitrate: int | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self._source = source
        self._drain = drain if canSkip else None
        self._sampleRate = sampleRate
        self._minInterval = int(1e9 / fps) if fps else 0
        self._size = size
        self._bitrate = bitrate
        self._rtpSender: Any = None
        self._clock = MediaClock(VIDEO_TIME_BASE if kind == "video" else Fraction(1, sampleRate))
        self._samplesSent = 0
        self._lastSequence = -1
        self._lastSentNs = 0
        self.sent = 0
        self.skipped = 0
        self.badItems = 0

    def useSender(self, rtpSender: Any) -> None:
        """The aiortc sender that encodes this track (whose encoder the bitrate cap is for)."""
        self._rtpSender = rtpSender

    def _capBitrate(self) -> None:
        """Holds the encoder's target at or below ``bitrate``. aiortc (1.x) has no setting for
        it: its sender keeps the encoder in a private attribute, made with the first frame."""
        encoder = getattr(self._rtpSender, _SENDER_ENCODER, None)
        if encoder is not None and getattr(encoder, "target_bitrate", 0) > self._bitrate:  # type: ignore[operator]
            encoder.target_bitrate = self._bitrate

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        """The next frame for the encoder; ends (MediaStreamError) when the source closes."""
        if self._bitrate is not None:
            self._capBitrate()
        while self.readyState == "live":
            try:
                item = self._newest(await self._source())
            except SubscriptionClosed:
                break
            if (
                self.kind == "video"
                and self._minInterval
                and 0 < captureTime(item) - self._lastSentNs < self._minInterval
            ):
                self.skipped += 1
                continue
            try:
                frame = await self._convert(item)
            except BadMediaItem as error:
                self.badItems += 1
                _log.error("skipped an item given to the %s track: %s", self.kind, error)
                continue
            self.sent += 1
            return frame
        self.stop()
        raise MediaStreamError

    def _newest(self, item: Any) -> Any:
        if self._drain is not None:
            while True:
                try:
                    item = self._drain()
                except (asyncio.QueueEmpty, SubscriptionClosed):
                    break
                self.skipped += 1
        sequence = getattr(item, "sequence", -1)
        if isinstance(sequence, int) and sequence >= 0:
            if self._lastSequence >= 0 and sequence > self._lastSequence + 1:
                self.skipped += sequence - self._lastSequence - 1
            self._lastSequence = sequence
        return item

    async def _convert(self, item: Any) -> av.VideoFrame | av.AudioFrame:
        captured = captureTime(item)
        frame: av.VideoFrame | av.AudioFrame
        if self.kind == "video":
            frame = toVideoFrame(item)
            if self._size is not None and (frame.width, frame.height) != self._size:
                width, height = self._size
                frame = await asyncio.to_thread(frame.reformat, width, height, "yuv420p")
            frame.pts = self._clock.pts(captured)
            frame.time_base = self._clock.timeBase
            self._lastSentNs = captured
        else:
            frame = toAudioFrame(item, self._sampleRate)
            frame.pts = self._samplesSent
            frame.time_base = self._clock.timeBase
            self._samplesSent += frame.samples
        return frame


class ReceivedTrack(SubscriptionProducer[Frame]):
    """A track the peer sends, as a producer of decoded Frames: video as BGR uint8 pictures,
    audio as float32 (samples, channels) blocks, each stamped with its receive time.
    Closes when the track ends."""

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__(logger=_log)
        self.track = track
        self.kind = str(track.kind)
        self._reader = asyncio.ensure_future(self._readAll())
        self._reader.add_done_callback(lambda _: self._notifyState())

    async def _readAll(self) -> None:
        convert = fromVideoFrame if self.kind == "video" else fromAudioFrame
        sequence = 0
        while not self.closed:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                break
            self._put_nowait(convert(frame, sequence))  # type: ignore[arg-type]
            sequence += 1
        self.close()

    def close(self) -> None:
        """Stops reading the track."""
        if self.closed:
            return
        super().close()
        self._reader.cancel()

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and self._reader.done()
