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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ..rigfixtures import _unavailable
from ..webrtc.browser import chromiumPage
from ..webrtc.peers import patternError
from ..webrtc.test_browser import _decodePicture

SDIST = Path(__file__).parents[2] / ".cache" / "rtcbot-0.2.5.tar.gz"
SITE = Path(__file__).parent / "site"

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]

READ_PICTURE = """() => {
  const video = document.querySelector("video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
}"""


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


def _freePort() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def served(program: Path) -> AsyncIterator[tuple[str, subprocess.Popen[str]]]:
    """Runs an example that serves a page; yields its address. Ctrl-C ends it, cleanly."""
    port = _freePort()
    environment = {**os.environ, "PYTHONPATH": str(SITE), "RTCBOT_EXAMPLE_PORT": str(port)}
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-W", "error", "-W", "ignore:There is no current event loop:DeprecationWarning", str(program)],
        cwd=program.parent, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        first = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert first.split() == ["serving", str(port)], first + await asyncio.to_thread(process.stderr.read)
        yield f"http://127.0.0.1:{port}/", process
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, errors
    assert errors == "", errors  # no traceback, warning or dropped frame


async def test_streaming_video_shows_the_camera_in_the_browser(tmp_path: Path) -> None:
    program = _example("streaming/video.py", tmp_path)
    async with served(program) as (address, _):
        async with chromiumPage() as page:
            await page.goto(address)
            await page.wait_for_function(
                "document.querySelector('video').readyState >= 2 && document.querySelector('video').videoWidth > 0",
                timeout=20_000,
            )
            picture = await page.evaluate(READ_PICTURE)
    frame = await asyncio.to_thread(_decodePicture, picture)
    assert frame.shape == (240, 320, 3)
    number, error = await asyncio.to_thread(patternError, frame)
    assert number is not None and error < 12, f"the page shows frame {number}, {error:.1f} levels off the pattern"
