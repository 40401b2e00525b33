"""The device examples run headless against the rigs and exit cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ..rigs import AudioRig, XDisplay

EXAMPLES = Path(__file__).parents[2] / "examples"


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, timeout=60, cwd=EXAMPLES.parent
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_camera_to_display(xDisplay: XDisplay) -> None:
    result = _run(str(EXAMPLES / "camera_to_display.py"), "--seconds", "2")
    captured = int(result.stdout.split()[0])
    assert 40 <= captured <= 70, result.stdout


def test_camera_to_display_reports_a_missing_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "camera_to_display.py"), "--seconds", "5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "DISPLAY is not set" in result.stderr, result.stderr


@pytest.mark.parametrize("arguments", [["--synthetic"], []])
def test_mic_to_speaker(audioRig: AudioRig, arguments: list[str]) -> None:
    result = _run(str(EXAMPLES / "mic_to_speaker.py"), *arguments, "--seconds", "1.5")
    assert "speaker: AudioStatus(" in result.stdout and "rejectedBlocks=0" in result.stdout, result.stdout
