"""A camera read with OpenCV in a child process, decoding straight into shared memory."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ._frames import FrameSource
from ._libraries import importLibrary, requireLibrary
from ._source import SourceState, SourceStatus, SourceWatch, VideoFormat

#: Waits between attempts to reopen a lost source: doubling from the first to the last.
RETRY_FIRST = 0.05
RETRY_LAST = 2.0

Image = np.ndarray[Any, Any]


class SourceError(RuntimeError):
    """A capture source cannot be opened or read."""


def identity(frame: Image) -> Image:
    """The default ``preprocessframe``: the frame as it is."""
    return frame


class CVCamera(SourceWatch, FrameSource):
    """BGR ``uint8`` frames of shape (height, width, 3) from ``cv2.VideoCapture``.

    ``cameranumber`` is a device index, or any source OpenCV opens: a file path, a URL, a
    FIFO, an image sequence pattern, a GStreamer pipeline (with ``apiPreference``, OpenCV's
    backend constant such as ``cv2.CAP_GSTREAMER`` or ``cv2.CAP_V4L2``). For a camera,
    ``width``, ``height`` and ``fps`` are requests to the driver; ``sourceStatus.actual``
    says what it delivers. A video file plays at ``fps`` (0: as fast as subscribers take
    frames), loses no frame, and ends the object at its end (``repeat=True`` loops it):
    reads then raise ``SourceEnded``.

    Capture runs in a child process and decodes straight into a shared-memory slot.
    ``preprocessframe(frame)`` runs there too, on the writable slot: change it in place or
    return a new array. The default subscription keeps only the latest frame.

    A source that cannot be opened at the start is an error (``onError``; the object
    closes). A live source that stops delivering is retried with back-off (50 ms doubling
    to 2 s) until it comes back or the object closes; each change is reported through
    ``sourceStatus`` and ``onSourceChange``.
    """

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        cameranumber: int | str | os.PathLike[str] = 0,
        fps: float = 30,
        preprocessframe: Callable[[Image], Image] = identity,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        repeat: bool = False,
        apiPreference: int | None = None,
        **kwargs: Any,
    ) -> None:
        requireLibrary("cv2", type(self).__name__)
        checkFormat(width, height, fps)
        if not callable(preprocessframe):
            raise TypeError(f"preprocessframe must be a function of a frame, got {preprocessframe!r}")
        self.width, self.height, self.fps = width, height, fps
        self.source = _checkSource(cameranumber)
        self.isFile = not isinstance(self.source, int) and os.path.isfile(self.source)
        self.repeat = repeat
        self.apiPreference = apiPreference
        self.preprocessframe = preprocessframe
        super().__init__(loop=loop, **kwargs)
        self._initSourceWatch(VideoFormat(width, height, fps))

    def _onChildNotice(self, notice: Any) -> None:
        super()._onChildNotice(notice)
        if isinstance(notice, SourceStatus) and notice.state is SourceState.ENDED:
            self._markEndOfData(notice.message)

    # -- in the child -----------------------------------------------------------------------

    def _producer(self) -> None:
        cv2 = importLibrary("cv2", type(self).__name__)
        capture = self._open(cv2)
        if capture is None:
            raise SourceError(f"cannot open video source {self._describeSource()}")
        self._status = SourceStatus(SourceState.LIVE, VideoFormat(self.width, self.height, self.fps), None)
        self._useFormat(cv2, capture)
        self._retryDelay = RETRY_FIRST
        self._setReady(True)
        try:
            self._captureUntilClosed(cv2, capture)
        finally:
            capture.release()

    def _open(self, cv2: Any) -> Any:
        # OpenCV logs every backend it tries; a failure is reported once, as a SourceError.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            if self.apiPreference is None:
                capture = cv2.VideoCapture(self.source)
            else:
                capture = cv2.VideoCapture(self.source, self.apiPreference)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not capture.isOpened():
            capture.release()
            return None
        if not self.isFile:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps:
                capture.set(cv2.CAP_PROP_FPS, self.fps)
        return capture

    def _useFormat(self, cv2: Any, capture: Any) -> None:
        """Reads the source's actual format and tells the parent."""
        actual = VideoFormat(
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(capture.get(cv2.CAP_PROP_FPS)),
        )
        self._report(actual=actual)

    def _report(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)
        self._notify(self._status)

    def _captureUntilClosed(self, cv2: Any, capture: Any) -> None:
        delivered = 0  # since the source was (re)opened or rewound
        start = time.monotonic()
        while not self._shouldClose:
            if self.isFile and self.fps and self._sleep(start + delivered / self.fps - time.monotonic()):
                return
            if not capture.grab():
                capture = self._afterFailedRead(cv2, capture, delivered)
                if capture is None:
                    return
                delivered, start = 0, time.monotonic()
                continue
            captured = time.monotonic_ns()
            self._retrieve(cv2, capture, captured)
            delivered += 1

    def _retrieve(self, cv2: Any, capture: Any, captured: int) -> None:
        """Decodes the grabbed frame into a free slot and publishes it. A live source's
        frame is dropped (and counted) when every slot is held; a file waits for one."""
        actual = self._status.actual
        assert actual is not None
        slot = None
        if actual.width > 0 and actual.height > 0:
            slot = self._claimFrame((actual.height, actual.width, 3), np.uint8, wait=math.inf if self.isFile else 0)
            if slot is None:
                return
            ok, image = capture.retrieve(image=slot)
            if not ok or image is not slot:
                self._unclaimFrame(slot)
        else:
            ok, image = capture.retrieve()
        if not ok or image is None:
            return
        if image is not slot:  # the size changed, or the backend allocates: one copy
            self._report(
                actual=VideoFormat(image.shape[1], image.shape[0], actual.fps),
                copiedFrames=self._status.copiedFrames + 1,
            )
        sourceTime = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        self._put_nowait(self.preprocessframe(image), timestamp=captured, deviceTimestamp=sourceTime)

    def _afterFailedRead(self, cv2: Any, capture: Any, delivered: int) -> Any:
        """A read failed: at a file's end, rewind or end; otherwise the source is lost:
        reopen it with back-off until it delivers again. None: stop capturing."""
        if self.isFile:
            if delivered == 0:
                raise SourceError(f"no frame could be read from {self._describeSource()}")
            if self.repeat and capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
                return capture
            self._report(state=SourceState.ENDED, message=f"end of {self._describeSource()}")
            return None
        capture.release()
        self._report(
            state=SourceState.LOST,
            message=f"no frame from {self._describeSource()}; reopening",
            timesLost=self._status.timesLost + 1,
        )
        # A source that reopens but delivers nothing does not reset the back-off.
        delay = RETRY_FIRST if delivered else self._retryDelay
        while not self._sleep(delay):
            delay = min(delay * 2, RETRY_LAST)
            capture = self._open(cv2)
            if capture is not None:
                self._retryDelay = delay
                self._status = replace(self._status, state=SourceState.LIVE, message="")
                self._useFormat(cv2, capture)
                return capture
        return None

    def _describeSource(self) -> str:
        if isinstance(self.source, int):
            return f"camera {self.source}"
        return repr(self.source)


def checkFormat(width: int, height: int, fps: float) -> None:
    """Refuses an impossible frame size or rate with a ValueError, before any process starts."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive whole number of pixels, got {value!r}")
    if not isinstance(fps, int | float) or fps < 0 or math.isnan(fps):
        raise ValueError(f"fps must be a positive number (or 0 for as fast as possible), got {fps!r}")


def _checkSource(source: int | str | os.PathLike[str]) -> int | str:
    """A device index, or the text of a path/URL. A local path must exist."""
    if isinstance(source, bool) or not isinstance(source, int | str | os.PathLike):
        raise TypeError(f"the video source must be a camera index, a file path or a URL, got {source!r}")
    if isinstance(source, int):
        if source < 0:
            raise ValueError(f"camera index must not be negative, got {source}")
        return source
    text = os.fspath(source)
    looksLikePath = not any(mark in text for mark in ("://", "%", "!"))  # not a URL, sequence or pipeline
    if looksLikePath and not os.path.exists(text):
        raise FileNotFoundError(f"video source {text!r} does not exist (give a camera index, a file or a URL)")
    return text
