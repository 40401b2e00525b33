"""rtcbot.js's RTCBot helpers in a real headless Chromium: ``Keyboard`` (Playwright's key
events), ``Gamepad`` and ``setGamepadRate``, ``Queue``, and ``Websocket`` against an aiohttp
server (a program of its own) whose handler is our Python ``rtcbot.Websocket``.

Headless Chromium has no gamepads: the gamepad tests put a STAND-IN for
``navigator.getGamepads`` into the page before its scripts run (``GAMEPAD_STAND_IN``). It
returns ``standIn.pads`` (``null`` for an empty slot), counts and times each call, and hands
out the same pad objects, changed in place as the test presses buttons (as Firefox does;
Chromium hands out snapshots): the library has to copy what it compares. Everything else is
the browser's own. No page may raise an error (``pageerror``) in any test."""

from __future__ import annotations

import ast
import asyncio
import itertools
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from .browser import chromiumPage

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]

#: A stand-in for navigator.getGamepads (see the module's docstring), as an init script.
GAMEPAD_STAND_IN = """(() => {
  const standIn = { pads: [null, null, null, null], calls: 0, times: [], missing: false, throws: false };
  standIn.connect = (index, buttons = 4, axes = 2, id = "stand-in pad " + index) => {
    standIn.pads[index] = {
      id: id, index: index, connected: true, mapping: "standard",
      buttons: Array.from({ length: buttons }, () => ({ pressed: false, touched: false, value: 0 })),
      axes: new Array(axes).fill(0),
    };
  };
  standIn.press = (index, button, pressed) => {
    Object.assign(standIn.pads[index].buttons[button], { pressed: pressed, touched: pressed, value: pressed ? 1 : 0 });
  };
  standIn.move = (index, axis, value) => { standIn.pads[index].axes[axis] = value; };
  function getGamepads() {
    standIn.calls += 1;
    standIn.times.push(performance.now());
    if (standIn.throws) throw new DOMException("stand-in refuses", "SecurityError");
    return standIn.pads.slice();
  }
  Object.defineProperty(Navigator.prototype, "getGamepads", {
    configurable: true,
    get() { return standIn.missing ? undefined : getGamepads; },
  });
  window.standIn = standIn;
})();"""

_PAGE = """<!doctype html>
<html><head><script src="/rtcbot.js"></script></head>
<body><textarea id="field"></textarea></body></html>"""


#: The page's server: the page, /rtcbot.js and, at /ws, each browser websocket accepted by a
#: Python ``Websocket(request)``, number N from 0. It says ``serving PORT``, ``open N``,
#: ``message N <repr>`` and ``closed N``; it reads ``send N <repr>`` and ``close N`` on its
#: stdin, and ends, closing all, when stdin does. A program of its own, not the test's
#: loop: Chromium loading a page takes both cores, and server steps kept from a core would
#: count as the test's loop blocked.
_SERVER = r"""
import ast, asyncio, sys
from aiohttp import web
from rtcbot import Websocket, getRTCBotJS

def say(*words):
    print(*words, flush=True)

async def main():
    sockets = []

    async def page(request):
        return web.Response(text=sys.argv[1], content_type="text/html")

    async def script(request):
        return web.Response(text=getRTCBotJS(), content_type="application/javascript")

    async def websocket(request):
        number, ws = len(sockets), Websocket(request)
        sockets.append(ws)
        ws.subscribe(lambda message: say("message", number, repr(message)))
        ws.onClose(lambda *_: say("closed", number))
        say("open", number)
        await ws
        return web.Response()

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/rtcbot.js", script)
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    say("serving", runner.addresses[0][1])
    while line := await asyncio.to_thread(sys.stdin.readline):
        command, number, *value = line.split(" ", 2)
        if command == "send":
            sockets[int(number)].put_nowait(ast.literal_eval(value[0]))
        else:
            await sockets[int(number)].close()
    for ws in sockets:
        await ws.close()
    await runner.cleanup()

asyncio.run(main())
"""


class PageServer:
    """``_SERVER`` running: ``address`` is its page; ``said()`` is its next line, as words."""

    def __init__(self) -> None:
        self.address = ""
        self._process: subprocess.Popen[str] | None = None

    async def __aenter__(self) -> PageServer:
        self._process = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-W", "error", "-c", _SERVER, _PAGE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            words = await self.said()
            assert words[0] == "serving", words
        except BaseException:
            self._process.kill()
            _, errors = await asyncio.to_thread(self._process.communicate, None, 30)
            raise AssertionError(f"the page server did not start: {errors}") from None
        self.address = f"http://127.0.0.1:{words[1]}/"
        return self

    async def __aexit__(self, *exception: object) -> None:
        assert self._process is not None
        try:
            _, errors = await asyncio.to_thread(self._process.communicate, "", 30)  # stdin closed: it ends
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, errors = await asyncio.to_thread(self._process.communicate)
            raise AssertionError(f"the page server did not end: {errors}") from None
        assert self._process.returncode == 0 and errors == "", errors

    async def said(self) -> list[str]:
        assert self._process is not None and self._process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self._process.stdout.readline), 20)
        assert line, "the page server ended"
        return line.rstrip("\n").split(" ", 2)

    async def message(self, number: int) -> Any:
        """The next message the server's websocket ``number`` received."""
        words = await self.said()
        assert words[:2] == ["message", str(number)], words
        return ast.literal_eval(words[2])

    async def tell(self, *words: object) -> None:
        """A command for the server (``send N <repr>``, ``close N``)."""
        assert self._process is not None and self._process.stdin is not None
        stdin = self._process.stdin
        line = " ".join(map(str, words)) + "\n"
        await asyncio.to_thread(lambda: (stdin.write(line), stdin.flush()))


@asynccontextmanager
async def loadedPage(gamepadStandIn: bool = False) -> AsyncIterator[tuple[Any, PageServer]]:
    """The page in Chromium, rtcbot.js loaded; afterwards, no error may have been raised in it."""
    async with PageServer() as server, chromiumPage() as page:
        errors: list[Any] = []
        page.on("pageerror", lambda error: errors.append(error))
        if gamepadStandIn:
            await page.add_init_script(GAMEPAD_STAND_IN)
        await page.goto(server.address)
        await page.wait_for_function("typeof rtcbot === 'object'")
        yield page, server
        assert errors == [], errors


async def _polls(page: Any, count: int) -> None:
    """Waits, in the page, until the gamepads have been read ``count`` more times."""
    await page.evaluate(
        """(count) => new Promise((resolve) => {
          const target = standIn.calls + count;
          const check = () => (standIn.calls >= target ? resolve() : setTimeout(check, 5));
          check();
        })""",
        count,
    )


async def _pageWait(page: Any, ms: int) -> None:
    """Waits ``ms`` in the page's own time (for checking that nothing happens)."""
    await page.evaluate(f"new Promise((resolve) => setTimeout(resolve, {ms}))")


def _key(type: str, key: str, keyCode: int, shiftKey: bool = False, altKey: bool = False) -> dict[str, Any]:
    return {"type": type, "key": key, "keyCode": keyCode, "shiftKey": shiftKey, "altKey": altKey}


async def test_keyboard_reports_every_field_of_each_key_and_skips_repeats() -> None:
    async with loadedPage() as (page, _):
        await page.evaluate(
            "() => { window.kb = new rtcbot.Keyboard(); window.keys = []; kb.subscribe((e) => keys.push(e)); }"
        )
        keyboard = page.keyboard
        await keyboard.down("w")
        await keyboard.down("w")  # held: Playwright sends these two as repeats
        await keyboard.down("w")
        await keyboard.up("w")
        await keyboard.down("Shift")
        await keyboard.press("A")
        await keyboard.up("Shift")
        await keyboard.down("Alt")
        await keyboard.press("d")
        await keyboard.up("Alt")
        await page.wait_for_function("keys.length >= 10", timeout=10_000)
        keys: list[dict[str, Any]] = await page.evaluate("keys")
        now: float = await page.evaluate("performance.now()")
        assert [{name: k[name] for name in k if name != "timestamp"} for k in keys] == [
            _key("keydown", "w", 87),
            _key("keyup", "w", 87),
            _key("keydown", "Shift", 16, shiftKey=True),
            _key("keydown", "A", 65, shiftKey=True),
            _key("keyup", "A", 65, shiftKey=True),
            _key("keyup", "Shift", 16),
            _key("keydown", "Alt", 18, altKey=True),
            _key("keydown", "d", 68, altKey=True),
            _key("keyup", "d", 68, altKey=True),
            _key("keyup", "Alt", 18),
        ]
        times = [k["timestamp"] for k in keys]
        assert all(isinstance(t, (int, float)) and 0 < t <= now for t in times), times
        assert times == sorted(times), times

        await page.evaluate(
            "() => { kb.close(); window.other = []; new rtcbot.Keyboard().subscribe((e) => other.push(e.key)); }"
        )
        await keyboard.press("x")
        await page.wait_for_function("other.length === 2", timeout=10_000)  # both keyboards heard it, if both listen
        assert await page.evaluate("keys.length") == 10, "a closed Keyboard still reports keys"


async def test_keyboard_keeps_shortcuts_and_text_fields_and_logs_until_subscribed() -> None:
    async with loadedPage() as (page, _):
        # The page's own listener, added after the Keyboard's: whether the default action is kept.
        await page.evaluate(
            """() => {
              window.kb = new rtcbot.Keyboard();
              window.prevented = {};
              window.addEventListener("keydown", (e) => { prevented[e.key] = e.defaultPrevented; });
            }"""
        )
        async with page.expect_console_message() as logged:
            await page.keyboard.down("ArrowDown")
        unheard = await (await logged.value).args[0].json_value()
        await page.keyboard.up("ArrowDown")
        assert {k: v for k, v in unheard.items() if k != "timestamp"} == _key("keydown", "ArrowDown", 40)
        assert await page.evaluate("prevented.ArrowDown") is False, "nothing listens: the page may scroll"

        await page.evaluate("() => { window.nextKey = kb.get(); }")
        await page.keyboard.press("z")
        assert (await page.evaluate("nextKey"))["key"] == "z"

        await page.evaluate("() => { window.keys = []; kb.subscribe((e) => keys.push(e.type + ' ' + e.key)); }")
        await page.keyboard.press("ArrowUp")
        await page.keyboard.press("Control+KeyB")
        await page.keyboard.press("Meta+KeyC")
        await page.focus("#field")
        await page.keyboard.type("hi")
        await page.wait_for_function("keys.length === 14", timeout=10_000)
        assert await page.evaluate("document.getElementById('field').value") == "hi"
        assert await page.evaluate("prevented") == {
            "ArrowDown": False,
            "z": True,
            "ArrowUp": True,
            "Control": False,
            "b": False,
            "Meta": False,
            "c": False,
            "h": False,
            "i": False,
        }
        assert await page.evaluate("keys") == [
            "keydown ArrowUp",
            "keyup ArrowUp",
            "keydown Control",
            "keydown b",
            "keyup b",
            "keyup Control",
            "keydown Meta",
            "keydown c",
            "keyup c",
            "keyup Meta",
            "keydown h",
            "keyup h",
            "keydown i",
            "keyup i",
        ]


async def test_gamepad_reports_buttons_and_axes_that_change_and_nothing_else() -> None:
    async with loadedPage(gamepadStandIn=True) as (page, _):
        await page.evaluate(
            """() => {
              rtcbot.setGamepadRate(50);
              window.events = []; window.gp = new rtcbot.Gamepad(); gp.subscribe((e) => events.push(e));
              standIn.connect(0); standIn.press(0, 2, true);  // pressed as it appears: its starting state
            }"""
        )
        await _polls(page, 3)
        assert await page.evaluate("events") == []
        assert await page.evaluate("gp.state.id") == "stand-in pad 0"

        await page.evaluate("standIn.press(0, 1, true)")
        await page.wait_for_function("events.length === 1", timeout=10_000)
        await page.evaluate("standIn.move(0, 0, 0.5)")
        await page.wait_for_function("events.length === 2", timeout=10_000)
        await page.evaluate("() => { standIn.pads[0].buttons[3].value = 0.3; }")  # pressure, still not pressed
        await _polls(page, 3)
        await page.evaluate("() => { standIn.press(0, 1, false); standIn.move(0, 1, -1); }")
        await page.wait_for_function("events.length === 4", timeout=10_000)
        await _polls(page, 5)  # nothing changes
        assert await page.evaluate("events") == [
            {"type": "btn1", "value": True},
            {"type": "axis0", "value": 0.5},
            {"type": "btn1", "value": False},
            {"type": "axis1", "value": -1},
        ]

        # A second Gamepad follows the second pad.
        await page.evaluate(
            "() => { window.second = []; new rtcbot.Gamepad().subscribe((e) => second.push(e)); standIn.connect(1); }"
        )
        await _polls(page, 3)
        await page.evaluate("standIn.press(1, 0, true)")
        await page.wait_for_function("second.length === 1", timeout=10_000)
        await _polls(page, 3)
        assert await page.evaluate("second") == [{"type": "btn0", "value": True}]
        assert await page.evaluate("events.length") == 4


def _medianInterval(times: list[float]) -> float:
    return statistics.median(b - a for a, b in itertools.pairwise(times))


async def test_gamepads_are_polled_at_the_rate_set_and_only_while_one_is_open() -> None:
    async with loadedPage(gamepadStandIn=True) as (page, _):
        await _pageWait(page, 300)
        assert await page.evaluate("standIn.calls") == 0, "polled with no Gamepad"

        await page.evaluate("() => { window.first = new rtcbot.Gamepad(); }")
        await page.wait_for_function("standIn.times.length >= 6", timeout=10_000)
        default = _medianInterval(await page.evaluate("standIn.times"))
        start = await page.evaluate("() => { rtcbot.setGamepadRate(50); return standIn.times.length; }")
        await page.wait_for_function(f"standIn.times.length >= {start + 10}", timeout=10_000)
        fast = _medianInterval((await page.evaluate("standIn.times"))[start:])
        assert 80 <= default <= 130, f"polled every {default:.1f} ms by default, not 100"
        assert 15 <= fast <= 30, f"polled every {fast:.1f} ms at 50 Hz, not 20"
        refused = await page.evaluate("() => { try { rtcbot.setGamepadRate(0); } catch (e) { return e.name; } }")
        assert refused == "RangeError"

        await page.evaluate("() => { window.second = new rtcbot.Gamepad(); first.close(); }")
        await _polls(page, 3)  # one is still open
        calls = await page.evaluate("() => { second.close(); return standIn.calls; }")
        await _pageWait(page, 200)  # ten polls at 50 Hz
        assert await page.evaluate("standIn.calls") == calls, "still polled after the last Gamepad closed"


async def test_gamepad_copes_with_no_pad_and_pads_that_come_and_go() -> None:
    async with loadedPage(gamepadStandIn=True) as (page, _):
        await page.evaluate(
            """() => {
              rtcbot.setGamepadRate(50);
              window.events = []; window.gp = new rtcbot.Gamepad(); gp.subscribe((e) => events.push(e));
            }"""
        )
        await _polls(page, 3)  # only empty slots
        assert await page.evaluate("gp.state") is None
        await page.evaluate("() => { standIn.pads = []; }")
        await _polls(page, 3)
        await page.evaluate("() => { standIn.throws = true; }")  # e.g. a permissions policy
        await _polls(page, 3)
        await page.evaluate("() => { standIn.throws = false; standIn.missing = true; }")  # e.g. not a secure context
        await _pageWait(page, 100)
        await page.evaluate(
            "() => { standIn.missing = false; standIn.pads = [null]; standIn.connect(0); standIn.press(0, 0, true); }"
        )
        await _polls(page, 3)
        assert await page.evaluate("events") == [], "a pad's state when it appears is not an event"
        await page.evaluate("standIn.press(0, 0, false)")
        await page.wait_for_function("events.length === 1", timeout=10_000)

        await page.evaluate("() => { standIn.pads[0] = null; }")  # unplugged
        await _polls(page, 3)
        assert await page.evaluate("gp.state") is None
        await page.evaluate("() => { standIn.connect(0, 2, 4); standIn.move(0, 3, 0.25); }")  # back, another shape
        await _polls(page, 3)
        await page.evaluate("standIn.move(0, 3, 0)")
        await page.wait_for_function("events.length === 2", timeout=10_000)
        # Swapped for another pad between two polls: a new starting state.
        await page.evaluate("() => { standIn.connect(0, 2, 4, 'another pad'); standIn.press(0, 1, true); }")
        await _polls(page, 3)
        assert await page.evaluate("gp.state.id") == "another pad"
        assert await page.evaluate("events") == [{"type": "btn0", "value": False}, {"type": "axis3", "value": 0}]


async def test_queue_gives_values_in_order_and_waiting_getters_in_turn() -> None:
    async with loadedPage() as (page, _):
        result = await page.evaluate(
            """async () => {
              const q = new rtcbot.Queue();
              const put = q.put_nowait;  // works unbound
              put(1); put("two"); put({ three: [3] }); put(null);
              const returnsPromise = q.get() instanceof Promise;  // takes the 1
              const first = [await q.get(), await q.get(), await q.get()];
              const emptied = q.empty();
              const order = [];
              const getters = ["a", "b", "c"].map((name) => q.get().then((value) => order.push([name, value])));
              await new Promise((resolve) => setTimeout(resolve, 50));
              const waited = order.length;
              put("x"); put("y"); put("z"); put("w");
              await Promise.all(getters);
              const left = q.qsize();
              const last = await q.get();
              return { returnsPromise, first, emptied, waited, order, left, last, emptyAfter: q.empty() };
            }"""
        )
    assert result == {
        "returnsPromise": True,
        "first": ["two", {"three": [3]}, None],
        "emptied": True,
        "waited": 0,
        "order": [["a", "x"], ["b", "y"], ["c", "z"]],
        "left": 1,
        "last": "w",
        "emptyAfter": True,
    }


async def test_websocket_talks_to_a_python_websocket_both_ways() -> None:
    async with loadedPage() as (page, server):
        await page.evaluate(
            """() => {
              window.received = [];
              window.ws = new rtcbot.Websocket("/ws");  // on the page's own server
              ws.subscribe((message) => received.push(message));
              const send = ws.put_nowait;  // unbound, and before the socket is open: queued
              send({ a: [1, 2] }); send("hello"); send(3.5); send(null); send(new Uint8Array([1, 2, 3]));
              send('{"already": "JSON"}');  // strings go as they are (RTCBot's way): this is JSON
            }"""
        )
        assert await server.said() == ["open", "0"]
        fromBrowser = [await server.message(0) for _ in range(6)]
        for message in ({"b": True}, "text", "42", b"\x04\x05"):
            await server.tell("send", 0, repr(message))
        await page.wait_for_function("received.length === 4", timeout=10_000)
        fromPython = await page.evaluate(
            "received.map((m) => m instanceof ArrayBuffer ? { bytes: Array.from(new Uint8Array(m)) } : m)"
        )

        # An http address becomes ws; get() waits for the next message.
        await page.evaluate(
            "() => { window.other = new rtcbot.Websocket(location.origin + '/ws'); other.put_nowait('second'); }"
        )
        assert await server.said() == ["open", "1"]
        assert await server.message(1) == "second"
        await page.evaluate("() => { window.reply = other.get(); }")
        await server.tell("send", 1, repr({"x": [None]}))
        assert await page.evaluate("reply") == {"x": [None]}

        # Closing, from either end, closes the other.
        await page.evaluate(
            """() => {
              window.codes = [];
              ws.onClose((code) => codes.push(code)); other.onClose((code) => codes.push(code));
              ws.close();
            }"""
        )
        assert await server.said() == ["closed", "0"]
        await page.wait_for_function("codes.length === 1", timeout=10_000)
        await server.tell("close", 1)
        assert await server.said() == ["closed", "1"]
        await page.wait_for_function("codes.length === 2", timeout=10_000)
        assert await page.evaluate("codes") == [1000, 1000]  # a normal close, both
    assert fromBrowser == [{"a": [1, 2]}, "hello", 3.5, None, b"\x01\x02\x03", {"already": "JSON"}]
    assert fromPython == [{"b": True}, "text", "42", {"bytes": [4, 5]}]
