"""FAKE picamera2 for tests (see ../README.md): Picamera2, capture requests and MappedArray,
drawing rtcbot's test pattern into a padded buffer (real camera buffers have row padding)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from rtcbot.devices.testpattern import drawPattern

_ROW_PADDING = 64  # pixels


class _Request:
    def __init__(self, buffer: np.ndarray, number: int, sensorTime: int) -> None:
        self.buffer, self.number, self.sensorTime = buffer, number, sensorTime
        self.released = False

    def get_metadata(self) -> dict[str, Any]:
        return {"SensorTimestamp": self.sensorTime, "FrameNumber": self.number}

    def release(self) -> None:
        self.released = True


class MappedArray:
    def __init__(self, request: _Request, stream: str) -> None:
        assert stream == "main"
        self._request = request

    def __enter__(self) -> MappedArray:
        assert not self._request.released
        self.array = self._request.buffer
        return self

    def __exit__(self, *exc: object) -> None:
        del self.array


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        self.cameraNumber = camera_num
        self.started = False
        self.number = 0
        self.record: dict[str, Any] = {"camera_num": camera_num, "events": ["opened"]}

    def create_video_configuration(
        self, main: dict[str, Any], transform: Any, controls: dict[str, Any]
    ) -> dict[str, Any]:
        return {"main": dict(main), "transform": transform, "controls": dict(controls)}

    def configure(self, configuration: dict[str, Any]) -> None:
        transform = configuration["transform"]
        self.record.update(
            main={"size": list(configuration["main"]["size"]), "format": configuration["main"]["format"]},
            hflip=transform.hflip,
            vflip=transform.vflip,
            controls=configuration["controls"],
        )
        self.size = tuple(configuration["main"]["size"])
        self.fps = configuration["controls"].get("FrameRate", 30.0)
        self._save()

    def start(self) -> None:
        self.started = True
        self.startTime = time.monotonic()
        self.record["events"].append("started")
        self._save()

    def capture_request(self) -> _Request:
        assert self.started
        due = self.startTime + self.number / self.fps
        time.sleep(max(0.0, due - time.monotonic()))
        width, height = self.size
        buffer = np.zeros((height, width + _ROW_PADDING, 3), np.uint8)
        drawPattern(buffer[:, :width], self.number, time.monotonic_ns())
        buffer[:, width:] = 255  # padding a correct reader never shows
        request = _Request(buffer, self.number, time.monotonic_ns() - 5_000_000)
        self.number += 1
        return request

    def stop(self) -> None:
        self.started = False
        self.record["events"].append("stopped")
        self._save()

    def close(self) -> None:
        self.record["events"].append("closed")
        self._save()

    def _save(self) -> None:
        path = os.environ.get("FAKE_PICAMERA2_RECORD")
        if path:
            with open(path, "w") as out:
                json.dump(self.record, out)
