"""Heartbeats between rtcbot.js in Chromium and Python: each side notices the other vanish
within about a second (a closed tab; a Python side gone silent), and says why."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from .browser import chromiumPage

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]

#: The robot's side: serves the page, answers its offer, says what happens; "silence" on
#: stdin stops its heartbeats (as a robot whose program hangs).
SERVER = r"""
import asyncio, sys, time
from aiohttp import web
from rtcbot import RTCConnection, getRTCBotJS

PAGE = '''<!doctype html><html><head><script src="/rtcbot.js"></script></head><body><script>
window.events = [];
const conn = new rtcbot.RTCConnection();
conn.onDegraded(() => events.push("degraded"));
conn.onClose((reason) => events.push("closed: " + reason));
(async () => {
  const offer = await conn.getLocalDescription();
  const answer = await (await fetch("/connect", {method: "POST", body: JSON.stringify(offer)})).json();
  await conn.setRemoteDescription(answer);
  conn.subscribe(() => events.push("message"));
})();
window.conn = conn;
</script></body></html>'''

def say(*words):
    print(*words, flush=True)

async def main():
    connections = []
    async def page(request):
        return web.Response(text=PAGE, content_type="text/html")
    async def script(request):
        return web.Response(text=getRTCBotJS(), content_type="application/javascript")
    async def connect(request):
        conn = RTCConnection()
        connections.append(conn)
        conn.onReady(lambda: say("ready"))
        conn.onClose(lambda: say(
            "closed", conn.closeReason.value, type(conn.error).__name__, f"{time.monotonic():.3f}"
        ))
        return web.json_response(await conn.getLocalDescription(await request.json()))
    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/rtcbot.js", script)
    app.router.add_post("/connect", connect)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    say("serving", runner.addresses[0][1])
    while line := await asyncio.to_thread(sys.stdin.readline):
        if line.strip() == "state":
            say("state", connections[-1].linkState.value)
        elif line.strip() == "silence":
            connections[-1]._liveness.stop()
            say("silent")
        elif line.strip() == "clock":
            say("clock", f"{time.monotonic():.3f}")
    for conn in connections:
        await conn.close()
    await runner.cleanup()

asyncio.run(main())
"""


class Server:
    """The server program, and its lines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.address = ""

    async def line(self) -> list[str]:
        assert self.process.stdout is not None
        return (await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 20)).split()

    async def tell(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()


@asynccontextmanager
async def server() -> AsyncIterator[Server]:
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-W", "error", "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    talk = Server(process)
    try:
        serving = await talk.line()
        assert serving[0] == "serving", serving
        talk.address = f"http://127.0.0.1:{serving[1]}/"
        yield talk
    finally:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        await asyncio.to_thread(process.wait, 20)
        process.stdout.close()
    assert process.returncode == 0


async def _connected(page: Any, talk: Server) -> None:
    await page.goto(talk.address)
    assert await talk.line() == ["ready"]
    await page.wait_for_function("window.conn.linkState === 'alive'", timeout=10_000)
    await talk.tell("state")
    assert await talk.line() == ["state", "alive"]  # the page's heartbeats reach Python


async def test_python_notices_a_closed_tab_within_a_second() -> None:
    async with server() as talk, chromiumPage() as page:
        await _connected(page, talk)
        await talk.tell("clock")
        _, before = await talk.line()
        await page.close()
        closed = await talk.line()
    assert closed[0] == "closed" and closed[1:4] in (["by", "the", "peer"], ["peer", "gone", "PeerGone"]), closed
    assert float(closed[-1]) - float(before) < 1.5, closed


async def test_the_page_notices_a_silent_robot_within_a_second_degraded_first() -> None:
    async with server() as talk, chromiumPage() as page:
        await _connected(page, talk)
        started = time.monotonic()
        await talk.tell("silence")
        assert await talk.line() == ["silent"]
        await page.wait_for_function("window.events.some((e) => e.startsWith('closed'))", timeout=5_000)
        noticed = time.monotonic() - started
        events = await page.evaluate("window.events")
        assert events == ["degraded", "closed: peer gone"], events
        assert await page.evaluate("window.conn.linkState") == "gone"
    assert noticed < 1.5, f"the page noticed after {noticed:.2f} s"
