"""PiCamera2's glue to picamera2, against a FAKE picamera2 (tests/devices/fakepi: there is
no Raspberry Pi camera here). What it shows: the configuration asked of the camera, frames
copied out of padded camera buffers into shared memory, sensor timestamps, clean shutdown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from rtcbot import Frame, PiCamera2
from rtcbot.devices import MissingLibrary, SourceState
from rtcbot.devices.testpattern import decodeStamp

from .memory import inSharedMemory, memfdRegions

FAKE = Path(__file__).parent / "fakepi"


@pytest.fixture
def fakePicamera2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.syspath_prepend(str(FAKE))
    record = tmp_path / "camera.json"
    monkeypatch.setenv("FAKE_PICAMERA2_RECORD", str(record))
    return record


async def test_frames_come_configured_flipped_stamped_and_in_shared_memory(fakePicamera2: Path) -> None:
    camera = PiCamera2(hflip=True, width=320, height=240, fps=60)
    frames: asyncio.Queue[Frame] = asyncio.Queue()
    camera.subscribe(frames)
    received = []
    try:
        await camera.onReady()
        for _ in range(10):
            frame = await frames.get()
            received.append(
                (
                    decodeStamp(frame),
                    frame.shape,
                    frame.timestamp,
                    frame.deviceTimestamp,
                    frame.receivedNs,
                    inSharedMemory(frame, memfdRegions()),
                )
            )
            del frame
    finally:
        camera.close()
        await camera
    numbers = [stamp[0] for stamp, *_ in received]
    assert all(first == second for (first, second), *_ in received), "no torn frame"
    assert numbers == sorted(numbers) and len(set(numbers)) == 10
    assert {shape for _, shape, *_ in received} == {(240, 320, 3)}, "the buffer's row padding is cut off"
    assert all(timestamp == round(device * 1e9) for _, _, timestamp, device, _, _ in received), "sensor time"
    assert all(timestamp < arrived for _, _, timestamp, _, arrived, _ in received)
    assert all(shared for *_, shared in received)
    assert camera.sourceStatus.state is SourceState.LIVE and camera.sourceStatus.actual is not None
    record = json.loads(fakePicamera2.read_text())
    assert record["main"] == {"size": [320, 240], "format": "RGB888"}
    assert (record["hflip"], record["vflip"]) == (1, 0)
    assert record["controls"] == {"FrameRate": 60.0}
    assert record["events"] == ["opened", "started", "stopped", "closed"]


def test_without_picamera2_the_error_says_how_to_install_it() -> None:
    with pytest.raises(MissingLibrary, match="apt install python3-picamera2"):
        PiCamera2()
