"""Every example runs headless for a few seconds (synthetic sources, the Xvfb display, the
audio rig) and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .rigs import AudioRig, XDisplay

EXAMPLES = Path(__file__).parents[1] / "examples"


def _run(
    *arguments: str, program: str = sys.executable, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [program, *arguments], capture_output=True, text=True, timeout=90, cwd=EXAMPLES.parent, env=environment
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
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "DISPLAY is not set" in result.stderr, result.stderr


@pytest.mark.parametrize("arguments", [["--synthetic"], []])
def test_mic_to_speaker(audioRig: AudioRig, arguments: list[str]) -> None:
    result = _run(str(EXAMPLES / "mic_to_speaker.py"), *arguments, "--seconds", "1.5")
    assert "speaker: AudioStatus(" in result.stdout and "rejectedBlocks=0" in result.stdout, result.stdout


def test_process_producer() -> None:
    result = _run(str(EXAMPLES / "process_producer.py"), "--seconds", "1")
    assert result.stdout.count("brightness") >= 5, result.stdout


def test_offload_inference() -> None:
    result = _run(str(EXAMPLES / "offload_inference.py"), "--seconds", "1.5")
    assert result.stdout.count("edge pixels") >= 10, result.stdout


def test_pipeline_demo() -> None:
    result = _run(str(EXAMPLES / "pipeline_demo.py"), "--seconds", "1")
    assert "frames" in result.stdout, result.stdout


def test_profile_latency(tmp_path: Path) -> None:
    environment = {**os.environ, "OUT": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = _run(str(EXAMPLES / "profile_latency.sh"), "--seconds", "0.3", program="bash", environment=environment)
    assert "rtcbot ÷ baseline" in result.stdout and (tmp_path / "transport.png").exists()
