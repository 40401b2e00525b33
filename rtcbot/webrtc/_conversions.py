"""Pipeline items to PyAV frames for the encoder, and decoded PyAV frames back to Frames."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import av
import numpy as np

from ..base._forksafety import keepLibraryStateAcrossFork
from ..shm import Frame

keepLibraryStateAcrossFork()  # aiortc converts frames in its own threads

#: RTP's video clock.
VIDEO_TIME_BASE = Fraction(1, 90_000)

_VIDEO_FORMATS = {3: "bgr24", 4: "bgra"}


class BadMediaItem(ValueError):
    """An item given to a video or audio sender that is not a picture or sound block."""


def captureTime(item: Any) -> int:
    """The item's capture time (``Frame.timestamp``), or now for items that carry none."""
    timestamp = getattr(item, "timestamp", 0)
    return timestamp if isinstance(timestamp, int) and timestamp > 0 else time.monotonic_ns()


class MediaClock:
    """Turns capture times (monotonic ns) into strictly increasing pts in ``timeBase``."""

    def __init__(self, timeBase: Fraction) -> None:
        self.timeBase = timeBase
        self._origin: int | None = None
        self._last = -1

    def pts(self, captureNs: int) -> int:
        """The pts for a frame captured at ``captureNs``."""
        if self._origin is None:
            self._origin = captureNs
        pts = (captureNs - self._origin) * self.timeBase.denominator // (self.timeBase.numerator * 1_000_000_000)
        self._last = pts = max(pts, self._last + 1)
        return pts


def toVideoFrame(item: Any) -> av.VideoFrame:
    """A PyAV frame over the item's own memory (no copy for C-contiguous uint8 BGR, BGRA or
    grey arrays, such as a camera's frames); a PyAV frame is passed through."""
    if isinstance(item, av.VideoFrame):
        return item
    array = np.asarray(item)
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in _VIDEO_FORMATS)):
        raise BadMediaItem(
            f"a video frame must be a uint8 array of shape (height, width, 3) in BGR order, "
            f"(height, width, 4) BGRA or (height, width) grey; got {array.dtype} {array.shape}"
        )
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise BadMediaItem(f"a video frame must be at least 2x2 pixels, got {array.shape}")
    fmt = "gray" if array.ndim == 2 else _VIDEO_FORMATS[array.shape[2]]
    return av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(array), format=fmt)


def fromVideoFrame(frame: av.VideoFrame, sequence: int) -> Frame:
    """A decoded picture as a BGR Frame, stamped with the time it was received."""
    now = time.monotonic_ns()
    picture = frame.to_ndarray(format="bgr24").view(Frame)
    picture.sequence = sequence
    picture.timestamp = picture.receivedNs = now
    return picture


def toAudioFrame(item: Any, sampleRate: int) -> av.AudioFrame:
    """A block of samples, shape (samples,) or (samples, channels), float in [-1, 1] or
    int16, as a PyAV frame of 16-bit stereo samples: mono goes to both channels at full level
    (the encoder's own upmix would lower it by 3 dB), only the first two channels are sent."""
    if isinstance(item, av.AudioFrame):
        return item
    block = np.asarray(item)
    if block.ndim == 1:
        block = block[:, np.newaxis]
    if block.ndim != 2 or block.shape[0] == 0 or block.shape[1] == 0:
        raise BadMediaItem(f"an audio block must have shape (samples,) or (samples, channels), got {block.shape}")
    block = block[:, [0, 0]] if block.shape[1] == 1 else block[:, :2]
    if np.issubdtype(block.dtype, np.floating):
        samples = (np.clip(block, -1.0, 1.0) * 32767).astype(np.int16)
    elif block.dtype == np.int16:
        samples = np.ascontiguousarray(block)
    else:
        raise BadMediaItem(f"audio samples must be float (in [-1, 1]) or int16, got {block.dtype}")
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
    frame.sample_rate = sampleRate
    return frame


def fromAudioFrame(frame: av.AudioFrame, sequence: int) -> Frame:
    """A decoded audio frame as a float32 Frame of shape (samples, channels), stamped with
    the time it was received."""
    now = time.monotonic_ns()
    channels = len(frame.layout.channels)
    samples = frame.to_ndarray()
    if samples.dtype == np.int16:
        floats = samples.reshape(-1, channels).astype(np.float32) / 32768.0
    else:  # planar or float formats: one row per channel
        floats = samples.astype(np.float32).reshape(channels, -1).T.copy()
    block = floats.view(Frame)
    block.sequence = sequence
    block.timestamp = block.receivedNs = now
    return block
