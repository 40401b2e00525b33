"""RTCBot 0.2.5's ``examples/offloading``, unchanged from its sdist: ``robot.py`` serves its
camera over WebRTC; ``desktop.py`` connects to it, shows the video four times larger in a
window (on Xvfb) and sends its gamepad's events back, which the robot prints. The harness
substitutes the camera (the synthetic pattern), the ports (the robot's, and desktop.py's
``localhost:8080``) and the gamepad (a stand-in device's node: no gamepad exists here)."""

from __future__ import annotations

import ast
import asyncio
import signal
import subprocess
from pathlib import Path

import pytest

from ..devices.boards import plugged, send
from ..devices.test_inputs import BTN_SOUTH, EV_KEY, report
from ..rigs import XDisplay
from ..webrtc.peers import patternError
from .test_pages import _example, _line, _runExample, served

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]


async def _showsThePatternLarger(display: XDisplay, desktop: subprocess.Popen[str]) -> None:
    """Waits until desktop.py's window shows the camera's pattern, at four times its size."""
    while desktop.poll() is None:
        picture = await asyncio.to_thread(display.windowScreenshot, "1")  # CVDisplay's first window
        if picture is not None and picture.shape[:2] == (960, 1280):
            small = picture[2::4, 2::4, ::-1].copy()  # back to 320x240, RGB -> BGR
            number, error = await asyncio.to_thread(patternError, small)
            if number is not None and error < 12:
                return
        await asyncio.sleep(0.1)  # polling the X server: there is no event to wait for
    raise AssertionError(f"desktop.py ended: {desktop.returncode}")


async def test_offloading_desktop_shows_the_robots_camera_and_drives_it_with_the_gamepad(
    xDisplay: XDisplay, tmp_path: Path
) -> None:
    robot = await asyncio.to_thread(_example, "offloading/robot.py", tmp_path)
    desktopProgram = await asyncio.to_thread(_example, "offloading/desktop.py", tmp_path)
    node = tmp_path / "event0"
    async with plugged(node, "--sketch", "relay") as gamepad, served(robot) as (address, robotProcess):
        port = address.rstrip("/").rsplit(":", 1)[1]
        desktop = await asyncio.to_thread(
            _runExample, desktopProgram, RTCBOT_EXAMPLE_SERVER_PORT=port, RTCBOT_EXAMPLE_GAMEPAD=str(node)
        )
        try:
            await asyncio.wait_for(_showsThePatternLarger(xDisplay, desktop), 30)
            await send(gamepad, report((EV_KEY, BTN_SOUTH, 1)))
            said = await _line(robotProcess)
        finally:
            desktop.send_signal(signal.SIGINT)
            _, errors = await asyncio.to_thread(desktop.communicate, timeout=30)
    assert said.startswith("Control message: "), said
    event = ast.literal_eval(said.removeprefix("Control message: "))
    assert {k: event[k] for k in ("code", "state", "event")} == {"code": "BTN_SOUTH", "state": 1, "event": "Key"}
    # desktop.py does not catch Ctrl-C: Python ends it by SIGINT, after its finally closed all.
    assert desktop.returncode == -signal.SIGINT and errors.rstrip().endswith("KeyboardInterrupt"), errors
    assert "Warning" not in errors and "dropped" not in errors, errors
