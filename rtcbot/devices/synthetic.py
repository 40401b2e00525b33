"""A camera that needs no hardware: the default source of demos, tests and the profiler."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._frames import FrameSource, describeRate
from .testpattern import checkSize, drawPattern


class SyntheticCamera(FrameSource):
    """Frames of a moving test pattern, drawn in a child process straight into shared memory.

    Each (height, width, 3) BGR uint8 frame shows its number and capture time (see
    :mod:`rtcbot.devices.testpattern`, whose ``decodeStamp`` reads the number back). Frames
    come at ``fps`` (0: as fast as possible), ``frames`` of them (None: until closed). Like a
    camera, the default subscription keeps only the latest frame. Other keyword arguments go
    to :class:`~rtcbot.base.multiprocess.ProcessSubscriptionProducer` (``slotCount``,
    ``startMethod``, ``loop``, ...).
    """

    def __init__(
        self, width: int = 320, height: int = 240, fps: float = 30, frames: int | None = None, **kwargs: Any
    ) -> None:
        checkSize(width, height)
        if fps < 0:
            raise ValueError(f"fps must be positive (or 0 for as fast as possible), got {fps}")
        if frames is not None and frames < 0:
            raise ValueError(f"frames must not be negative, got {frames}")
        self.width, self.height, self.fps, self.frames = width, height, fps, frames
        super().__init__(**kwargs)

    def _reprDetails(self) -> list[str]:
        """Adds the frame rate."""
        return [*super()._reprDetails(), describeRate(self.fps)]

    def _producer(self) -> None:
        self._setReady(True)
        start = time.monotonic()
        number = 0
        while not self._shouldClose and (self.frames is None or number < self.frames):
            if self.fps:
                delay = start + number / self.fps - time.monotonic()
                # waiting, it still takes in what comes (slots given back, close)
                if delay > 0 and self._sleep(delay):
                    break
            frame = self._claimFrame((self.height, self.width, 3), np.uint8)
            if frame is not None:  # None: every slot is held, this frame is dropped (and counted)
                captured = time.monotonic_ns()
                drawPattern(frame, number, captured)
                self._put_nowait(frame, timestamp=captured)
            number += 1
