"""RTCBot 0.2.5's ``examples/streaming/video.py``, unchanged from its sdist: the camera and
the connection are made at module level, before aiohttp's ``web.run_app`` makes its own
loop. A headless Chromium opens its page and must show the camera's test pattern (only the
camera, a synthetic one, and the port are substituted: see ``site/sitecustomize.py``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ..rigfixtures import _unavailable
from ..webrtc.browser import chromiumPage, videoPicture
from ..webrtc.peers import patternError

SDIST = Path(__file__).parents[2] / ".cache" / "rtcbot-0.2.5.tar.gz"
SITE = Path(__file__).parent / "site"

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]


def _example(name: str, into: Path) -> Path:
    """One example program of the sdist, written to ``into``."""
    if not SDIST.exists():
        _unavailable(f"{SDIST} is missing: scripts/setup downloads it")
    with tarfile.open(SDIST) as sdist:
        source = sdist.extractfile(f"rtcbot-0.2.5/examples/{name}")
        assert source is not None
        path = into / Path(name).name
        path.write_bytes(source.read())
    return path


def _runExample(program: Path, **environment: str) -> subprocess.Popen[str]:
    """Runs an example as a user does (``python example.py`` in its folder), with the
    harness's site (see site/sitecustomize.py) and ``environment`` added; warnings are
    errors, except the one RTCBot's module-level get_event_loop() gets."""
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-W", "ignore:There is no current event loop:DeprecationWarning", str(program)],
        cwd=program.parent,
        env={**os.environ, "PYTHONPATH": str(SITE), "PYTHONUNBUFFERED": "1", **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _freePort() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def served(
    program: Path, checkErrors: Callable[[str], None] | None = None
) -> AsyncIterator[tuple[str, subprocess.Popen[str]]]:
    """Runs an example that serves a page; yields its address. Ctrl-C ends it, cleanly:
    exit status 0, and nothing on stderr (or what ``checkErrors`` accepts)."""
    port = _freePort()
    process = await asyncio.to_thread(_runExample, program, RTCBOT_EXAMPLE_PORT=str(port))
    assert process.stdout is not None and process.stderr is not None
    try:
        first = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert first.split() == ["serving", str(port)], first + await asyncio.to_thread(process.stderr.read)
        yield f"http://127.0.0.1:{port}/", process
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, errors
    if checkErrors is None:
        assert errors == "", errors
    else:
        checkErrors(errors)


def _noProblems(errors: str) -> None:
    """For an example that logs at DEBUG: no traceback, warning or dropped frame."""
    assert "Traceback" not in errors and "Warning" not in errors and "dropped" not in errors, errors


async def _assertShowsThePattern(page: Any) -> None:
    """Waits until the page's video plays, then checks it shows the camera's test pattern."""
    await page.wait_for_function(
        "document.querySelector('video').readyState >= 2 && document.querySelector('video').videoWidth > 0",
        timeout=20_000,
    )
    frame = await videoPicture(page)
    assert frame.shape == (240, 320, 3)
    number, error = await asyncio.to_thread(patternError, frame)
    assert number is not None and error < 12, f"the page shows frame {number}, {error:.1f} levels off the pattern"


async def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line: str = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20)
    return line.strip()


async def _consoleMessage(page: Any, starting: str) -> str:
    """The next console message of the page that starts with ``starting``."""
    message = await page.wait_for_event("console", lambda m: m.text.startswith(starting), timeout=20_000)
    text: str = message.text
    return text


async def test_streaming_video_shows_the_camera_in_the_browser(tmp_path: Path) -> None:
    async with served(_example("streaming/video.py", tmp_path)) as (address, _), chromiumPage() as page:
        await page.goto(address)
        await _assertShowsThePattern(page)


async def test_multiconnect_shows_the_camera_on_two_pages_at_once(tmp_path: Path) -> None:
    async with served(_example("multiconnect/multiconnect.py", tmp_path)) as (address, _):
        async with chromiumPage() as first, chromiumPage() as second:
            await first.goto(address)
            await second.goto(address)
            await _assertShowsThePattern(first)
            await _assertShowsThePattern(second)


async def test_jsonbackandforth_sends_ping_and_gets_pong(tmp_path: Path) -> None:
    async with served(_example("webrtc/jsonbackandforth.py", tmp_path)) as (address, process):
        async with chromiumPage() as page:
            await page.goto(address)
            await page.wait_for_event("console", lambda m: m.text == "Ready!", timeout=20_000)
            pong = asyncio.ensure_future(_consoleMessage(page, "Received from python:"))
            await page.click("#mybutton")
            assert await _line(process) == "Got message: ping"
            assert "pong" in await pong


async def test_dataconnection_reports_the_button_with_its_own_loop(tmp_path: Path) -> None:
    """This one makes and sets its own loop (``RTCConnection(loop=loop)``) and logs at DEBUG."""
    async with served(_example("webrtc/dataconnection.py", tmp_path), _noProblems) as (address, process):
        async with chromiumPage() as page:
            await page.goto(address)
            await page.wait_for_event("console", lambda m: m.text == "Ready!", timeout=20_000)
            await page.click("#mybutton")
            assert await _line(process) == "Got message: Button Clicked!"


def _onlyTheDeadLoopsWarnings(errors: str) -> None:
    """What Python says at exit about the example's loop that never ran, and nothing else."""
    warnings = [line for line in errors.splitlines() if "Warning:" in line]
    assert "coroutine 'send_sensor_data' was never awaited" in errors, errors
    expected = ("never awaited", "unclosed event loop", "unclosed <socket.socket")
    assert all(any(known in line for known in expected) for line in warnings), errors
    assert "dropped" not in errors, errors


async def test_threaded_sensor_shows_the_camera_beside_its_threaded_producer(tmp_path: Path) -> None:
    """Its readings do not reach the page on today's aiohttp, with RTCBot 0.2.5 as with
    rtcbot: the example starts its sending task with ``asyncio.ensure_future()`` at module
    level, on the loop that ``get_event_loop()`` makes there, and ``web.run_app`` runs a new
    loop of its own (aiohttp 3.8 and later), so that task never runs. The camera, the
    connection and the threaded sensor, made at module level too, work."""
    async with served(_example("threads/threaded_sensor.py", tmp_path), _onlyTheDeadLoopsWarnings) as (address, _):
        async with chromiumPage() as page:
            await page.goto(address)
            await _assertShowsThePattern(page)
