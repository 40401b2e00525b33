"""RTCBot 0.2.5's ``examples/arduino/basic.py``, unchanged from its sdist, talking to a
stand-in board (``tests/devices/serialboard.py``, running basic.ino's behaviour: start bytes
192 105, then ``I received: <byte>`` for each byte) on a pty in place of /dev/ttyACM0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from ..devices.boards import plugged
from .test_pages import _example, _runExample

pytestmark = [pytest.mark.loop_timeout(40), pytest.mark.timeout(60)]


async def test_arduino_basic_waits_for_the_start_bytes_then_sends_and_prints_the_replies(tmp_path: Path) -> None:
    program = await asyncio.to_thread(_example, "arduino/basic.py", tmp_path)  # reads the sdist
    port = tmp_path / "ttyACM0"
    async with plugged(port, "--sketch", "lines", "--noise", "40", "--start", "c069"):
        process = await asyncio.to_thread(_runExample, program, RTCBOT_EXAMPLE_SERIAL=str(port))
        assert process.stdout is not None
        try:
            lines = [await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10) for _ in range(4)]
        finally:
            process.send_signal(signal.SIGINT)
            _, errors = await asyncio.to_thread(process.communicate, timeout=30)
    # "Hello world!" went out after the start bytes; it prints one reply a second.
    assert [line.rstrip() for line in lines] == ["I AM READY", "I received: 72", "I received: 101", "I received: 108"]
    assert "start bytes found" in errors, errors  # its DEBUG log
    # The example does not catch Ctrl-C: Python ends it by SIGINT. When the signal comes while
    # its task prints, the task ends with the KeyboardInterrupt too, and asyncio says so.
    assert process.returncode == -signal.SIGINT and errors.rstrip().endswith("KeyboardInterrupt"), errors
    tracebacks = errors.split("Traceback")[1:]
    assert 1 <= len(tracebacks) <= 2 and all("\nKeyboardInterrupt\n" in t + "\n" for t in tracebacks), errors
    assert "Warning" not in errors, errors
