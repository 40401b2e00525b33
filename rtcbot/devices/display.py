"""A window showing frames with OpenCV, drawn by a child process."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .._ratelimit import RateLimitedLog
from ..base.multiprocess import ProcessSubscriptionConsumer
from ..shm.frame import Frame
from ._libraries import importLibrary, requireLibrary
from ._xdisplay import checkDisplay

#: How often the window handles its events while no frame arrives (seconds).
EVENT_INTERVAL = 0.02


class CVDisplay(ProcessSubscriptionConsumer[Any]):
    """Shows frames (BGR ``uint8`` arrays, or anything ``cv2.imshow`` takes) in a window.

    The window lives in a child process, which always shows the latest frame (older ones
    waiting behind it are skipped) and keeps the window responsive between frames. Windows
    are named "1", "2", ... unless ``name`` is given; the window is destroyed on close. No
    reachable X display (or an OpenCV without GUI support) is an error of this object
    (``onError``), never a crash of your program. With ``reportTiming=True`` the child
    reports when each frame was shown: ``takeTimings()`` (the latency profiler uses it).
    """

    _windowNumbers: ClassVar[itertools.count[int]] = itertools.count(1)
    _parentOnly: ClassVar[frozenset[str]] = frozenset({"_shownFrames"})

    def __init__(
        self,
        name: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        reportTiming: bool = False,
        **kwargs: Any,
    ) -> None:
        requireLibrary("cv2", type(self).__name__)
        self.name = str(next(self._windowNumbers)) if name is None else str(name)
        self.reportTiming = reportTiming
        self._shownFrames: deque[ShownFrame] = deque(maxlen=MAX_TIMINGS)
        super().__init__(loop=loop, **kwargs)

    def takeTimings(self) -> list[ShownFrame]:
        """With ``reportTiming=True``: the frames shown since the last call, with the times
        of each stage (at most 0.1 s old; the newest ``MAX_TIMINGS`` are kept)."""
        shown = list(self._shownFrames)
        self._shownFrames.clear()
        return shown

    def _onChildNotice(self, notice: Any) -> None:
        if isinstance(notice, list) and all(isinstance(row, ShownFrame) for row in notice):
            self._shownFrames.extend(notice)
        else:
            super()._onChildNotice(notice)

    def _consumer(self) -> None:
        checkDisplay(type(self).__name__)
        cv2 = importLibrary("cv2", type(self).__name__)
        cv2.namedWindow(self.name, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        log = RateLimitedLog(self._log)
        timings = _TimingReport(self._notify) if self.reportTiming else None
        self._setReady(True)
        try:
            while True:
                try:
                    frame = self._getLatest(timeout=EVENT_INTERVAL)
                except TimeoutError:
                    cv2.waitKey(1)
                    continue
                try:
                    cv2.imshow(self.name, frame)
                except (cv2.error, TypeError, ValueError) as error:
                    log.log("imshow", logging.ERROR, "cannot show %s: %s", _describe(frame), error)
                cv2.waitKey(1)
                if timings is not None and isinstance(frame, Frame):
                    timings.shown(frame, time.monotonic_ns())
        finally:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)


#: Most ``ShownFrame`` records the parent keeps until ``takeTimings()``.
MAX_TIMINGS = 100_000


@dataclass(frozen=True, slots=True)
class ShownFrame:
    """When one frame passed each stage on its way to the screen (``time.monotonic_ns()``)."""

    sequence: int
    captured: int
    handedToChild: int
    """When the parent announced it to the display's process."""
    receivedInChild: int
    shown: int
    """After ``imshow`` and the ``waitKey`` that puts it on screen."""


class _TimingReport:
    """In the child: collects ShownFrame records and sends them in batches every 0.1 s."""

    def __init__(self, notify: Callable[[Any], None]) -> None:
        self._notify = notify
        self._rows: list[ShownFrame] = []
        self._sentAt = time.monotonic()

    def shown(self, frame: Frame, shownNs: int) -> None:
        self._rows.append(ShownFrame(frame.sequence, frame.timestamp, frame.announcedNs, frame.receivedNs, shownNs))
        if time.monotonic() - self._sentAt >= 0.1:
            self._notify(self._rows)
            self._rows, self._sentAt = [], time.monotonic()


def _describe(frame: Any) -> str:
    shape, dtype = getattr(frame, "shape", None), getattr(frame, "dtype", None)
    return f"an array of shape {shape} and dtype {dtype}" if shape is not None else repr(frame)[:80]
