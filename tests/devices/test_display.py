"""CVDisplay on a real X server (Xvfb), checked by screenshots of its window."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from rtcbot import CVDisplay, SubscriptionClosed, SyntheticCamera
from rtcbot.devices import DisplayUnavailable
from rtcbot.devices.testpattern import decodeStamp

from ..rigs import XDisplay

pytestmark = pytest.mark.loop_timeout(20)


async def _windowShows(xDisplay: XDisplay, title: str, check: Callable[[np.ndarray | None], bool]) -> None:
    """Waits (at most 10 s) until a screenshot of the window passes ``check`` (None: no window)."""

    async def poll() -> None:
        while not check(await asyncio.to_thread(xDisplay.windowScreenshot, title)):
            pass

    await asyncio.wait_for(poll(), 10)


def _equals(expectedRgb: np.ndarray) -> Callable[[np.ndarray | None], bool]:
    return lambda shot: shot is not None and np.array_equal(shot, expectedRgb)


def _quadrants(height: int, width: int, colours: list[tuple[int, int, int]]) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[: height // 2, : width // 2] = colours[0]
    frame[: height // 2, width // 2 :] = colours[1]
    frame[height // 2 :, : width // 2] = colours[2]
    frame[height // 2 :, width // 2 :] = colours[3]
    return frame


async def test_a_frame_is_on_screen_pixel_for_pixel_and_the_next_replaces_it(xDisplay: XDisplay) -> None:
    display = CVDisplay("pixels")
    first = _quadrants(240, 320, [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255)])
    second = _quadrants(240, 320, [(10, 20, 30), (200, 100, 0), (0, 128, 255), (90, 90, 90)])
    try:
        await display.onReady()
        display.put_nowait(first)
        await _windowShows(xDisplay, "pixels", _equals(first[:, :, ::-1]))
        display.put_nowait(second)
        await _windowShows(xDisplay, "pixels", _equals(second[:, :, ::-1]))
    finally:
        display.close()
        await display
    await _windowShows(xDisplay, "pixels", lambda shot: shot is None)  # the window is gone


async def test_the_display_shows_the_latest_camera_frame(xDisplay: XDisplay) -> None:
    camera = SyntheticCamera(320, 240, fps=30, frames=20)
    display = CVDisplay("camera")
    display.putSubscription(camera)
    try:
        await camera.onClose()
        await camera
        await _windowShows(
            xDisplay, "camera", lambda shot: shot is not None and decodeStamp(shot[:, :, ::-1]) == (19, 19)
        )
    finally:
        display.close()
        await display


@pytest.mark.parametrize("value", [None, ":4242", "nonsense"])
async def test_no_reachable_display_is_an_error_of_the_object_not_a_crash(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    else:
        monkeypatch.setenv("DISPLAY", value)
    display = CVDisplay()
    with pytest.raises(SubscriptionClosed):
        await display.onReady()
    await display
    assert isinstance(display.error, DisplayUnavailable)
    assert "DISPLAY" in str(display.error)
