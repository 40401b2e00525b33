"""RTCBot 0.2.5's ``examples/mobile``, unchanged from its sdist: ``server.py`` serves the
page and relays signalling over a websocket to ``robot.py``, which connects to it with
rtcbot's ``Websocket("http://localhost:8080/ws")`` and answers the browser's offer itself,
so the video goes straight from the robot to the browser.

Substituted (``site/sitecustomize.py``): the robot's camera (the synthetic pattern), the
server's port, and the robot's port 8080 in its websocket URL (``RTCBOT_EXAMPLE_SERVER_PORT``,
the server's port)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from yarl import URL

from ..webrtc.browser import chromiumPage
from .test_basics import _interrupted, _runExample
from .test_media_examples import _endedByCtrlC, descendantsEnd
from .test_pages import _assertShowsThePattern, _consoleMessage, _example, _line, served

pytestmark = [pytest.mark.loop_timeout(45), pytest.mark.timeout(60)]


async def test_mobile_robot_sends_its_camera_to_the_browser_through_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await asyncio.to_thread(_example, "mobile/server.py", tmp_path)  # 40 ms each: unpacks the sdist
    robot = await asyncio.to_thread(_example, "mobile/robot.py", tmp_path)
    # The browser starts first: its start-up, on both cores, would starve the robot's camera.
    async with chromiumPage() as page, served(server) as (address, serverProcess):
        monkeypatch.setenv("RTCBOT_EXAMPLE_SERVER_PORT", str(URL(address).port))
        robotProcess = await asyncio.to_thread(_runExample, robot)
        try:
            assert await _line(serverProcess) == "Robot Connected"
            ready = asyncio.ensure_future(_consoleMessage(page, "Ready!"))
            await page.goto(address)
            await ready
            assert await _line(robotProcess) == "Started WebRTC"
            # The robot closes its websocket once it has answered: signalling is over.
            assert await _line(serverProcess) == "Robot disconnected"
            await _assertShowsThePattern(page)
            async with descendantsEnd(robotProcess):
                errors = await asyncio.to_thread(_interrupted, robotProcess)
        finally:
            if robotProcess.poll() is None:
                await asyncio.to_thread(_interrupted, robotProcess)
    _endedByCtrlC(robotProcess, errors)
