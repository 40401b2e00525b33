"""Ctrl-C on a program with a camera, a microphone and a display: a clean exit (status 0),
no traceback from any process, no leaked-shared-memory warning, every child gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ..orphans import adoptingOrphans, exitsWithin
from ..rigs import AudioRig, XDisplay

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ctrlc") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (320, 240))
    for index in range(30):
        writer.write(np.full((240, 320, 3), index * 8, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("whole", [False, True], ids=["to the program", "to its process group (a terminal's Ctrl-C)"])
def test_ctrl_c_ends_everything_cleanly(whole: bool, video: Path, audioRig: AudioRig, xDisplay: XDisplay) -> None:
    children: list[int] = []
    with adoptingOrphans(children):
        program = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.ctrlc_program", str(video)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert program.stdout is not None
            line = program.stdout.readline()
            assert line, program.communicate(timeout=10)[1]
            children.extend(json.loads(line))
            if whole:
                os.killpg(program.pid, signal.SIGINT)
            else:
                program.send_signal(signal.SIGINT)
            _, errors = program.communicate(timeout=15)
        finally:
            if program.poll() is None:
                program.kill()
                program.communicate(timeout=10)
        assert program.returncode == 0, errors
        assert "Traceback" not in errors and "leaked" not in errors, errors
        assert all(exitsWithin(pid, 1.0) for pid in children)
