"""The Raspberry Pi camera through picamera2, captured in a child process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ._frames import FrameSource
from ._libraries import importLibrary, requireLibrary
from ._source import SourceState, SourceStatus, SourceWatch, VideoFormat
from .cvcamera import Image, checkFormat, identity

#: A sensor timestamp further than this from the monotonic clock is not trusted (ns).
_PLAUSIBLE_SENSOR_AGE = 1_000_000_000


class PiCamera2(SourceWatch, FrameSource):
    """BGR ``uint8`` frames (height, width, 3) from a Raspberry Pi camera (libcamera stack).

    Needs picamera2 (Raspberry Pi OS: ``apt install python3-picamera2``). ``hflip`` and
    ``vflip`` flip the image in the camera; ``width``, ``height`` and ``fps`` configure its
    video mode (``sourceStatus.actual`` has what it chose); ``cameranumber`` picks one of
    several cameras; ``preprocessframe`` runs in the capture process on the writable slot.
    Each frame is copied once, from the camera's buffer into shared memory, and stamped
    with the sensor's exposure time. The default subscription keeps only the latest frame.
    """

    def __init__(
        self,
        hflip: bool = False,
        vflip: bool = False,
        *,
        width: int = 320,
        height: int = 240,
        cameranumber: int = 0,
        fps: float = 30,
        preprocessframe: Callable[[Image], Image] = identity,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        requireLibrary("picamera2", type(self).__name__)
        checkFormat(width, height, fps)
        self.hflip, self.vflip = bool(hflip), bool(vflip)
        self.width, self.height, self.fps, self.cameranumber = width, height, fps, cameranumber
        self.preprocessframe = preprocessframe
        super().__init__(loop=loop, **kwargs)
        self._initSourceWatch(VideoFormat(width, height, fps))

    def _producer(self) -> None:
        picamera2 = importLibrary("picamera2", type(self).__name__)
        libcamera = importLibrary("libcamera", type(self).__name__)
        camera = picamera2.Picamera2(self.cameranumber)
        try:
            controls = {"FrameRate": float(self.fps)} if self.fps else {}
            configuration = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},  # BGR byte order
                transform=libcamera.Transform(hflip=int(self.hflip), vflip=int(self.vflip)),
                controls=controls,
            )
            camera.configure(configuration)
            width, height = configuration["main"]["size"]
            status = SourceStatus(
                SourceState.LIVE,
                VideoFormat(self.width, self.height, self.fps),
                VideoFormat(width, height, float(self.fps)),
            )
            self._notify(status)
            camera.start()
            self._setReady(True)
            while not self._shouldClose:
                self._captureOne(picamera2, camera, (height, width, 3))
        finally:
            camera.stop()
            camera.close()

    def _captureOne(self, picamera2: Any, camera: Any, shape: tuple[int, int, int]) -> None:
        request = camera.capture_request()
        try:
            received = time.monotonic_ns()
            sensorTime = request.get_metadata().get("SensorTimestamp")
            slot = self._claimFrame(shape, np.uint8)
            if slot is None:
                return  # every slot is held: dropped and counted
            with picamera2.MappedArray(request, "main") as mapped:
                np.copyto(slot, mapped.array[:, : shape[1], :3])
        finally:
            request.release()
        plausible = sensorTime is not None and abs(received - sensorTime) < _PLAUSIBLE_SENSOR_AGE
        self._put_nowait(
            self.preprocessframe(slot),
            timestamp=sensorTime if plausible else received,
            deviceTimestamp=None if sensorTime is None else sensorTime / 1e9,
        )
