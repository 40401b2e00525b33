"""A real browser (headless Chromium) on the example robot's page: it connects with the
token, shows the synthetic camera, and its arrow keys reach the robot. Bad requests are
refused and the robot goes on serving."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from .browser import chromiumPage, videoPicture
from .peers import patternError

ROOT = Path(__file__).parents[2]

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]


@asynccontextmanager
async def robot(token: str) -> AsyncIterator[tuple[str, subprocess.Popen[str]]]:
    """examples/webrtc_robot.py on a free port; yields its page address and the process."""
    process = await asyncio.to_thread(
        subprocess.Popen,
        [
            sys.executable,
            "examples/webrtc_robot.py",
            "--synthetic",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            f"--token={token}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert first.startswith("open http://127.0.0.1:"), first
        yield first.split()[1], process
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.to_thread(process.wait, 30)
        process.stdout.close()
    assert process.returncode == 0


def _post(address: str, body: bytes, token: str) -> tuple[int, str]:
    request = urllib.request.Request(
        address + "/connect", data=body, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


async def test_the_browser_shows_the_camera_and_its_keys_reach_the_robot() -> None:
    token = "-" + secrets.token_urlsafe(12)  # a leading "-" must still reach the robot as its token
    async with robot(token) as (address, process):
        server = address.split("/#")[0]
        assert process.stdout is not None
        offer = json.dumps({"type": "offer", "sdp": "v=0\r\nm=video 9\r\n"}).encode()
        status, text = await asyncio.to_thread(_post, server, offer, "wrong-token")
        assert status == 403 and "token" in text
        status, text = await asyncio.to_thread(_post, server, b"{not json", token)
        assert status == 400 and "JSON" in text
        status, text = await asyncio.to_thread(_post, server, offer, token)
        assert status == 400 and "refused" in text
        async with chromiumPage() as page:
            await page.goto(address)
            await page.wait_for_function(
                "document.getElementById('status').textContent === 'connected'", timeout=20_000
            )
            await page.wait_for_function(
                "document.getElementById('video').readyState >= 2 && document.getElementById('video').videoWidth > 0",
                timeout=20_000,
            )
            await page.wait_for_function("!document.getElementById('audio').paused", timeout=20_000)
            frame = await videoPicture(page, "#video")
            await page.keyboard.press("ArrowUp")
            await page.keyboard.down("ArrowLeft")
            await page.keyboard.up("ArrowLeft")
            keys = [await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20) for _ in range(4)]
    assert frame.shape == (480, 640, 3)
    number, error = await asyncio.to_thread(patternError, frame)
    assert number is not None and error < 12, f"the page shows frame {number}, {error:.1f} levels off the pattern"
    assert [line.strip() for line in keys] == [
        "key ArrowUp down",
        "key ArrowUp up",
        "key ArrowLeft down",
        "key ArrowLeft up",
    ]
