"""``rtcbot serve`` and ``rtcbot list`` as a user runs them, with programs that attach."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

import numpy as np
import pytest

import rtcbot
from rtcbot import Frame, Speaker, SyntheticMicrophone

from ..devices.audiocheck import Recorder, measureTone
from ..rigs import SAMPLERATE, AudioRig
from .launcher import Program, Programs

pytestmark = pytest.mark.loop_timeout(30)

RTCBOT = [sys.executable, "-m", "rtcbot"]


async def _run(*arguments: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *RTCBOT, *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _untilReady(daemon: Program, devices: int) -> None:
    """Reads the daemon's output until each of its ``devices`` says it is ready."""
    assert daemon.process.stdout is not None
    ready = 0
    while ready < devices:
        raw = await asyncio.wait_for(daemon.process.stdout.readline(), 10)
        assert raw, "rtcbot serve ended early"
        ready += b"is ready" in raw


async def test_serve_publishes_what_separately_started_programs_attach_to_and_list_shows() -> None:
    async with Programs() as programs:
        daemon = await programs.start(
            "serve",
            command=[*RTCBOT, "serve", "--synthetic", "--name", "front", "--width", "320", "--height", "240", "--mic"],
        )
        assert daemon.process.stdout is not None
        await _untilReady(daemon, devices=2)
        first = await programs.start("attach", "front", "--count", "100000")
        second = await programs.start("blocking", "front", "--count", "30", "--timeout", "5")
        firstFrames = await first.frames(30, timeout=10)
        secondFrames = await second.frames(30, timeout=10)
        assert (await second.until("done"))["mappingsAfter"] == 0, "the blocking program kept memory mapped"
        code, out, _ = await _run("list", "--json")
        assert code == 0
        streams = {stream["name"]: stream for stream in json.loads(out)}
        assert streams["front"]["kind"] == "SyntheticCamera" and streams["front"]["shape"] == [240, 320, 3]
        assert 25 < streams["front"]["fps"] < 35 and streams["front"]["programs"] == 1
        assert streams["mic"]["kind"] == "SyntheticMicrophone" and streams["mic"]["sampleRate"] == 48000
        code, table, _ = await _run("list")
        assert code == 0 and table.splitlines()[0].split()[:3] == ["NAME", "KIND", "FORMAT"]
        assert "320x240" in table and "48000 Hz" in table
        byFirst = {frame["seq"]: frame["crc"] for frame in firstFrames}
        common = [frame for frame in secondFrames if frame["seq"] in byFirst]
        assert len(common) >= 10, "the two programs saw different frames"
        assert all(frame["crc"] == byFirst[frame["seq"]] for frame in common)
        assert all(frame["stamp"] == frame["seq"] for frame in firstFrames + secondFrames)
        for extra in ([], ["--blocking"]):
            example = await programs.start(
                "example",
                command=[sys.executable, "examples/attach_stream.py", "--name", "front", "--frames", "20", *extra],
            )
            assert await example.exitCode(15) == 0
            assert example.process.stdout is not None
            printed = (await example.process.stdout.read()).decode()
            assert "front: 20 frames, last #" in printed and "(240, 320, 3)" in printed, printed
        daemon.kill(signal.SIGTERM)
        assert await daemon.exitCode(10) == 0
        rest = (await daemon.process.stdout.read()).decode()
        assert "rtcbot serve: stopped" in rest
    code, out, _ = await _run("list")
    assert code == 0 and out.startswith("no streams are published")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["serve"], "needs something to publish"),
        (["serve", "--synthetic", "--name", "../x"], "not a valid stream name"),
        (["serve", "--synthetic", "--width", "0"], "--width must be at least 1"),
        (["serve", "--synthetic", "--group", "no-such-group"], "no group 'no-such-group'"),
    ],
)
async def test_bad_serve_arguments_end_with_one_line_and_status_2(arguments: list[str], message: str) -> None:
    code, _, err = await _run(*arguments)
    assert code == 2 and message in err, err


async def test_the_blocking_iterator_times_out_when_nothing_is_published() -> None:
    async with Programs() as programs:
        program = await programs.start("blocking", "nobody", "--timeout", "0.3")
        end = await program.until("done")
    assert end["error"] == "TimeoutError" and "'nobody'" in end["message"]


async def test_serve_publishes_the_microphone_and_an_attached_program_hears_what_it_records(audioRig: AudioRig) -> None:
    """``rtcbot serve --mic`` on the real sound server: a tone played into the null sink
    reaches a program attached to the daemon's microphone, at its frequency."""
    async with Programs() as programs:
        daemon = await programs.start("serve", command=[*RTCBOT, "serve", "--mic", "--mic-name", "mic"])
        await _untilReady(daemon, devices=1)
        stream = rtcbot.attach("mic", reattach=False)
        recorder = Recorder()
        stream.subscribe(recorder)
        await asyncio.wait_for(stream.onReady(), 10)
        code, out, _ = await _run("list", "--json")
        (described,) = json.loads(out)
        assert code == 0 and described["kind"] == "Microphone" and described["sampleRate"] == 48000
        speaker = Speaker(channels=1)
        await asyncio.wait_for(speaker.onReady(), 10)
        tone = SyntheticMicrophone(SAMPLERATE, 1, blocksize=480, frequency=1000, amplitude=0.5, seconds=0.8)
        speaker.putSubscription(tone)
        await asyncio.wait_for(tone.onClose(), 10)
        await tone
        await asyncio.wait_for(recorder.until(time.monotonic_ns() + 500_000_000), 10)  # what the speaker still plays
        speaker.close()
        await speaker
        first = await asyncio.wait_for(stream.get(), 5)
        assert isinstance(first, Frame) and first.dtype == np.float32
        del first
        stream.close()
        await stream
        measured = await asyncio.to_thread(measureTone, recorder.recording(), SAMPLERATE, 0.5)
        assert measured.frequency == pytest.approx(1000, rel=0.01)
        daemon.kill(signal.SIGTERM)
        assert await daemon.exitCode(10) == 0
