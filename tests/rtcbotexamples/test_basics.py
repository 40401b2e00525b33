"""RTCBot 0.2.5's ``examples/basics``, unchanged from its sdist: objects made at module
level, then ``asyncio.get_event_loop().run_forever()``. ``video.py`` shows the camera (the
synthetic one: see ``site/sitecustomize.py``) in a window on the Xvfb display; Ctrl-C ends
it through the example's own ``finally``, which closes both."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..rigs import XDisplay
from ..webrtc.peers import patternError
from .test_pages import _example, _runExample

pytestmark = pytest.mark.timeout(90)


def _interrupted(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a user ends the example; its stderr."""
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=30)
    return errors


def test_basics_video_shows_the_camera_in_a_window(xDisplay: XDisplay, tmp_path: Path) -> None:
    process = _runExample(_example("basics/video.py", tmp_path))
    try:
        deadline = time.monotonic() + 30
        shown = None
        while time.monotonic() < deadline and process.poll() is None:
            picture = xDisplay.windowScreenshot("1")  # CVDisplay's first window
            if picture is not None and picture.shape[:2] == (240, 320):
                number, error = patternError(picture[:, :, ::-1].copy())  # RGB -> BGR
                if number is not None and error < 4:
                    shown = number
                    break
            time.sleep(0.1)  # polling the X server: there is no event to wait for
    finally:
        errors = _interrupted(process)
    assert shown is not None, f"no window showed the pattern; the example said: {errors}"
    # The example does not catch Ctrl-C: Python ends it by SIGINT, after its finally closed both.
    assert process.returncode == -signal.SIGINT, errors
    assert errors.rstrip().endswith("KeyboardInterrupt"), errors
    assert "Warning" not in errors and "dropped" not in errors and errors.count("Traceback") == 1, errors
