"""rtcbot-latency end to end, as a user runs it: a real subprocess, short runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ..rigs import AudioRig, XDisplay

STAGE_KEYS = {"p50", "p90", "p99", "p99.9", "max", "mean"}


def profiler(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtcbot_tools.latency", *arguments], capture_output=True, text=True, timeout=timeout
    )


def runWithJson(tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = profiler(*arguments, "--json", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads((tmp_path / "out.json").read_text())


def test_a_comparison_writes_every_stage_the_ratios_a_table_and_a_real_png(tmp_path: Path) -> None:
    plot = tmp_path / "out.png"
    result, document = runWithJson(tmp_path, "--compare", "--size", "qvga", "--seconds", "0.5", "--plot", str(plot))
    runs = {run["transport"]: run for run in document["runs"]}
    assert set(runs) == {"rtcbot", "rawshm", "pickle"}
    ours = {stage["name"]: stage for stage in runs["rtcbot"]["stages"]}
    assert set(ours) == {
        "capture → slot written",
        "slot written → announced",
        "announced → received",
        "received → subscriber resumed",
        "announced → subscriber resumed",
        "capture → subscriber resumed",
    }
    for run in document["runs"]:
        assert run["frames"] >= 10 and 20 <= run["fps"] <= 40, run
        for stage in run["stages"]:
            assert set(stage["us"]) == STAGE_KEYS and stage["samples"] > 0
            assert sum(stage["histogram"]) == stage["samples"]
            assert 0 < stage["us"]["p50"] <= stage["us"]["p99"] <= stage["us"]["max"]
        assert run["processes"][0]["name"] == "main" and len(run["processes"]) >= 2
    assert {entry["baseline"] for entry in document["ratios"]} == {"rawshm", "pickle"}
    assert all(entry["latency p50"] > 0 for entry in document["ratios"])
    environment = document["environment"]
    assert environment["cpu"] and environment["python"] and environment["numpy"] and environment["opencv-python"]
    assert "rtcbot ÷ baseline" in result.stdout and "capture → subscriber resumed" in result.stdout
    image = cv2.imread(str(plot))
    assert image is not None and image.shape[0] > 500 and image.shape[1] > 500
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20, "a chart, not a blank image"


def test_a_sweep_of_sizes_and_subscribers_with_a_slow_one(tmp_path: Path) -> None:
    _, document = runWithJson(
        tmp_path, "--size", "audio,qvga", "--subscribers", "1,3", "--slow", "--seconds", "0.4", "--fps", "60"
    )
    settings = [(run["size"], run["subscribers"], run["slow"]) for run in document["runs"]]
    assert settings == [
        ("audio 1024x2", 1, True),
        ("audio 1024x2", 3, True),
        ("320x240", 1, True),
        ("320x240", 3, True),
    ]
    audio = document["runs"][0]
    assert 40 <= audio["fps"] <= 54, "48000 / 1024 blocks per second"


def test_a_video_file_source(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 30, (320, 240))
    for index in range(30):
        writer.write(np.full((240, 320, 3), index * 8, np.uint8))
    writer.release()
    _, document = runWithJson(tmp_path, "--source", str(video), "--size", "qvga", "--seconds", "0.5")
    run = document["runs"][0]
    assert run["source"] == str(video) and run["frames"] >= 10
    assert any(process["name"] == "CVCamera" for process in run["processes"])


def test_through_webrtc_beside_the_bare_pipeline(tmp_path: Path) -> None:
    result, document = runWithJson(tmp_path, "--via", "webrtc", "--compare", "--size", "qvga", "--seconds", "1")
    runs = {run["transport"]: run for run in document["runs"]}
    assert set(runs) == {"webrtc", "rtcbot"}
    webrtc = runs["webrtc"]
    assert [stage["name"] for stage in webrtc["stages"]] == [
        "capture → handed to the encoder",
        "handed → encoded and sent",
        "sent → decoded at the peer",
        "decoded → peer's subscriber resumed",
        "capture → subscriber resumed",
    ]
    assert webrtc["frames"] >= 20 and 20 <= webrtc["fps"] <= 40, webrtc
    stages = {stage["name"]: stage["us"] for stage in webrtc["stages"]}
    parts = sum(stages[name]["mean"] for name in list(stages)[:4])
    assert parts == pytest.approx(stages["capture → subscriber resumed"]["mean"], rel=0.01)
    assert len(webrtc["processes"]) >= 3, "this process, the camera's child and the far peer"
    assert [entry["baseline"] for entry in document["ratios"]] == ["webrtc ÷ pipeline"]
    assert "webrtc ÷ pipeline" in result.stdout


def test_an_attached_program_beside_the_in_program_subscriber(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCBOT_STREAM_DIR", str(tmp_path))
    result, document = runWithJson(tmp_path, "--attach", "front", "--compare", "--size", "qvga", "--seconds", "1")
    runs = {run["transport"]: run for run in document["runs"]}
    assert set(runs) == {"rtcbot", "attached"}
    attached = runs["attached"]
    assert attached["size"] == "320x240" and attached["frames"] >= 20, attached
    stages = {stage["name"]: stage["us"] for stage in attached["stages"]}
    assert "announced → received" in stages and "capture → subscriber resumed" in stages
    assert [entry["baseline"] for entry in document["ratios"]] == ["attached ÷ in-program"]
    assert "attached ÷ in-program" in result.stdout
    assert not list(tmp_path.glob("*.sock")), "the publication's socket was left behind"


def test_attach_to_a_stream_the_daemon_publishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCBOT_STREAM_DIR", str(tmp_path))
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtcbot",
            "serve",
            "--synthetic",
            "--name",
            "front",
            "--width",
            "160",
            "--height",
            "120",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        while "is ready" not in daemon.stdout.readline():
            assert daemon.poll() is None, "rtcbot serve ended early"
        _, document = runWithJson(tmp_path, "--attach", "front", "--seconds", "0.5")
        run = document["runs"][0]
        assert run["transport"] == "attached" and run["size"] == "stream front" and run["frames"] >= 10, run
    finally:
        daemon.terminate()
        assert daemon.wait(10) == 0
        assert daemon.stdout is not None
        daemon.stdout.close()


def test_display_stages(tmp_path: Path, xDisplay: XDisplay) -> None:
    _, document = runWithJson(tmp_path, "--display", "--subscribers", "0", "--seconds", "0.5")
    stages = {stage["name"]: stage for stage in document["runs"][0]["stages"]}
    assert {
        "capture → handed to the display process",
        "handed → received by the display process",
        "received → shown",
        "capture → shown",
    } <= set(stages)
    assert stages["capture → shown"]["samples"] >= 10


def test_microphone_and_the_audio_round_trip(tmp_path: Path, audioRig: AudioRig) -> None:
    _, microphone = runWithJson(tmp_path, "--source", "mic", "--size", "audio", "--seconds", "0.5")
    assert microphone["runs"][0]["frames"] >= 15
    _, roundTrip = runWithJson(tmp_path, "--source", "roundtrip", "--seconds", "2")
    run = roundTrip["runs"][0]
    assert run["drops"]["clicks not found in the recording"] == 0
    assert run["frames"] >= 7
    trip = run["stages"][0]
    assert trip["name"] == "played → recorded (round trip)" and 1_000 < trip["us"]["p50"] < 300_000


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--source", "nonsense"], "unknown source 'nonsense'"),
        (["--size", "10x10"], "impossible size 10x10"),
        (["--size", "big"], "unknown size 'big'"),
        (["--seconds", "0"], "--seconds must be more than 0"),
        (["--subscribers", "two"], "--subscribers takes whole numbers"),
        (["--source", "mic", "--compare", "--size", "audio"], "--compare needs --source synthetic"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--source", "63", "--seconds", "0.5"], "CVCamera: cannot open video source camera 63"),
        (["--json", "/no/such/folder/out.json"], "is not a folder"),
        (["--via", "webrtc", "--size", "audio"], "--via webrtc measures video"),
        (["--via", "webrtc", "--subscribers", "2"], "--via webrtc has one subscriber"),
        (["--via", "carrier-pigeon"], "invalid choice: 'carrier-pigeon'"),
        (["--attach", "../x"], "not a valid stream name"),
        (["--attach", "front", "--display"], "--attach measures a named stream"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_status_2(arguments: list[str], message: str) -> None:
    result = profiler(*arguments)
    assert result.returncode == 2
    assert message in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("run 1/")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr


@pytest.mark.timeout(120)
def test_the_readme_main_command_finishes_within_a_minute_with_table_json_and_png(tmp_path: Path) -> None:
    checkout = Path(__file__).parents[2]
    result = subprocess.run(
        [
            "bash",
            str(checkout / "scripts" / "profile"),
            "--json",
            str(tmp_path / "l.json"),
            "--plot",
            str(tmp_path / "l.png"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "capture → subscriber resumed" in result.stdout and "rtcbot ÷ baseline" in result.stdout
    document = json.loads((tmp_path / "l.json").read_text())
    assert [(run["transport"], run["size"]) for run in document["runs"]] == [
        (transport, size) for size in ("640x480", "1920x1080") for transport in ("rtcbot", "rawshm", "pickle")
    ]
    assert cv2.imread(str(tmp_path / "l.png")) is not None


@pytest.mark.timeout(120)
def test_the_streams_benchmark_runs_every_transport_and_sees_who_copies(tmp_path: Path) -> None:
    out = tmp_path / "streams.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.streams",
            "--quick",
            "--programs",
            "1",
            "--seconds",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    alone = [cell for cell in document["cells"] if cell["receivers"] == 0]
    assert [cell["transport"] for cell in alone] == ["rtcbot"], "no publisher-alone baseline"
    assert alone[0]["senderCpuUsPerFrame"] > 0 and alone[0]["latencyUs"] == {}
    assert document["ratios"][0]["publisher CPU ÷ none attached"] > 0
    cells = {cell["transport"]: cell for cell in document["cells"] if cell["receivers"]}
    assert set(cells) == {"inprogram", "rtcbot", "rawshm", "zmq", "iceoryx2"}
    for cell in cells.values():
        assert cell["receivers"] == 1 and cell["delivered"] >= 0.8 and cell["latencyUs"]["p50"] > 0, cell
    assert cells["rtcbot"]["copiedBytesPerFrame"] == 0 and cells["iceoryx2"]["copiedBytesPerFrame"] == 0
    assert cells["zmq"]["copiedBytesPerFrame"] == 480 * 640 * 3, "zmq's frames come through its socket"
