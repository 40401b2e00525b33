"""A window showing frames with OpenCV, drawn by a child process."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, ClassVar

from .._ratelimit import RateLimitedLog
from ..base.multiprocess import ProcessSubscriptionConsumer
from ._libraries import importLibrary, requireLibrary
from ._xdisplay import checkDisplay

#: How often the window handles its events while no frame arrives (seconds).
EVENT_INTERVAL = 0.02


class CVDisplay(ProcessSubscriptionConsumer):
    """Shows frames (BGR ``uint8`` arrays, or anything ``cv2.imshow`` takes) in a window.

    The window lives in a child process, which always shows the latest frame (older ones
    waiting behind it are skipped) and keeps the window responsive between frames. Windows
    are named "1", "2", ... unless ``name`` is given; the window is destroyed on close. No
    reachable X display (or an OpenCV without GUI support) is an error of this object
    (``onError``), never a crash of your program.
    """

    _windowNumbers: ClassVar[itertools.count[int]] = itertools.count(1)

    def __init__(self, name: str | None = None, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        requireLibrary("cv2", type(self).__name__)
        self.name = str(next(self._windowNumbers)) if name is None else str(name)
        super().__init__(loop=loop, **kwargs)

    def _consumer(self) -> None:
        checkDisplay(type(self).__name__)
        cv2 = importLibrary("cv2", type(self).__name__)
        cv2.namedWindow(self.name, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        log = RateLimitedLog(self._log)
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
        finally:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)


def _describe(frame: Any) -> str:
    shape, dtype = getattr(frame, "shape", None), getattr(frame, "dtype", None)
    return f"an array of shape {shape} and dtype {dtype}" if shape is not None else repr(frame)[:80]
