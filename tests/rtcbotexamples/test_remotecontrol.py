"""RTCBot 0.2.5's ``examples/remotecontrol``, unchanged from its sdist, each in a headless
Chromium loading our rtcbot.js from the example's own ``/rtcbot.js``: ``keyboard.py`` prints
each key the browser sends, ``rc.py`` shows the camera and prints the drive state the w, a,
s and d keys make, and ``gamepad.py`` prints each button and axis event. Headless Chromium
has no gamepads: ``gamepad.py``'s page gets the STAND-IN for ``navigator.getGamepads`` of
``tests/webrtc/test_rtcbot_js_inputs.py`` before its scripts run; the rest is the browser's."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from rtcbot.webrtc.signalling import getRTCBotJS

from ..webrtc.browser import chromiumPage
from ..webrtc.test_rtcbot_js_inputs import GAMEPAD_STAND_IN, _polls
from .test_pages import _assertShowsThePattern, _example, _line, served

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]


async def _openAndWaitUntilReady(page: Any, address: str) -> None:
    """Opens the example's page; returns once it says it is connected ("Ready!"), having
    checked that the page's script is our rtcbot.js, from the example's route."""
    async with page.expect_console_message(lambda m: m.text == "Ready!", timeout=20_000):
        async with page.expect_response(address + "rtcbot.js") as script:
            await page.goto(address)
        response = await script.value
        assert response.status == 200 and await response.text() == getRTCBotJS()


async def _printed(process: Any, prefix: str) -> Any:
    """The value in the example's next line, which must start with ``prefix``."""
    line = await _line(process)
    assert line.startswith(prefix), line
    return ast.literal_eval(line[len(prefix) :])


async def test_keyboard_prints_each_key_the_browser_sends(tmp_path: Path) -> None:
    async with served(_example("remotecontrol/keyboard.py", tmp_path)) as (address, process):
        async with chromiumPage() as page:
            await _openAndWaitUntilReady(page, address)
            await page.keyboard.down("w")
            await page.keyboard.down("w")  # held: a repeat, not sent
            await page.keyboard.up("w")
            await page.keyboard.press("Shift+D")
            keys = [await _printed(process, "key press ") for _ in range(6)]
    assert [{name: k[name] for name in k if name != "timestamp"} for k in keys] == [
        {"type": "keydown", "altKey": False, "shiftKey": False, "keyCode": 87, "key": "w"},
        {"type": "keyup", "altKey": False, "shiftKey": False, "keyCode": 87, "key": "w"},
        {"type": "keydown", "altKey": False, "shiftKey": True, "keyCode": 16, "key": "Shift"},
        {"type": "keydown", "altKey": False, "shiftKey": True, "keyCode": 68, "key": "D"},
        {"type": "keyup", "altKey": False, "shiftKey": True, "keyCode": 68, "key": "D"},
        {"type": "keyup", "altKey": False, "shiftKey": False, "keyCode": 16, "key": "Shift"},
    ]
    times = [k["timestamp"] for k in keys]
    assert all(isinstance(t, float | int) and t > 0 for t in times) and times == sorted(times), times


async def test_rc_shows_the_camera_and_prints_what_wasd_make(tmp_path: Path) -> None:
    async with served(_example("remotecontrol/rc.py", tmp_path)) as (address, process), chromiumPage() as page:
        await _openAndWaitUntilReady(page, address)
        await _assertShowsThePattern(page)
        states = []
        for action in ["down w", "down a", "up w", "down d", "up a", "down s", "up s", "up d"]:
            upOrDown, key = action.split()
            await getattr(page.keyboard, upOrDown)(key)
            states.append(await _printed(process, ""))
    assert [(s["forward"], s["leftright"]) for s in states] == [
        (1, 0),
        (1, -1),
        (0, -1),
        (0, 0),
        (0, 1),
        (-1, 1),
        (0, 1),
        (0, 0),
    ]
    assert all(set(s) == {"forward", "leftright"} for s in states), states


async def test_gamepad_prints_each_button_and_axis_event(tmp_path: Path) -> None:
    async with served(_example("remotecontrol/gamepad.py", tmp_path)) as (address, process), chromiumPage() as page:
        await page.add_init_script(GAMEPAD_STAND_IN)
        await _openAndWaitUntilReady(page, address)
        await page.evaluate("standIn.connect(0)")
        await _polls(page, 2)  # seen as it is: its starting state
        events = []
        for change in ["standIn.press(0, 0, true)", "standIn.move(0, 1, -0.5)", "standIn.press(0, 0, false)"]:
            await page.evaluate(change)
            events.append(await _printed(process, "key press "))
    assert events == [
        {"type": "btn0", "value": True},
        {"type": "axis1", "value": -0.5},
        {"type": "btn0", "value": False},
    ]
