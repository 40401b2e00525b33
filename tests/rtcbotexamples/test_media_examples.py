"""RTCBot 0.2.5's sound and media examples, unchanged from its sdist: the microphone to the
speaker (``basics/audio.py``), the camera and the microphone to a browser
(``streaming/audiovideo.py``), a browser's camera and microphone to a window and the speaker
(``streaming/browser_audiovideo.py``), and the plain page of ``webrtc/basicserver.py``.

Sound runs on the PulseAudio rig (tests/rigs.py). Its sink ``loop`` is the examples' speaker
(the default sink), and the test records its monitor. Their microphone is the monitor of a
second null sink, into which PulseAudio's own ``module-sine`` plays a 700 Hz tone, chosen with
PulseAudio's ``PULSE_SOURCE`` variable (a microphone device selection, the harness's only
substitution for sound). The rig's default source, ``loop.monitor``, would feed the speaker
back into the microphone."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtcbot.devices.testpattern import drawPattern
from rtcbot_tools.usage import descendantPids

from ..devices.audiocheck import Tone, measureTone
from ..rigs import SAMPLERATE, AudioRig, XDisplay
from ..webrtc.browser import chromiumPage
from ..webrtc.peers import patternError
from .test_basics import _interrupted, _runExample
from .test_pages import _assertShowsThePattern, _consoleMessage, _example, served

pytestmark = [pytest.mark.loop_timeout(45), pytest.mark.timeout(60)]

TONE_HZ = 700
TONE_AMPLITUDE = 0.5  # module-sine's
MICROPHONE_SINK = "rtcbotexamplemicrophone"


def _pactl(*arguments: str) -> str:
    done = subprocess.run(["pactl", *arguments], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"pactl {' '.join(arguments)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def toneMicrophone(audioRig: AudioRig, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A microphone that hears a steady 700 Hz tone at amplitude 0.5: the monitor of a null
    sink that ``module-sine`` plays into. Example processes (and the browser) inherit
    ``PULSE_SOURCE``, so this is their default input; the speaker stays on ``loop``."""
    modules: list[str] = []
    try:
        modules.append(_pactl("load-module", "module-null-sink", f"sink_name={MICROPHONE_SINK}", f"rate={SAMPLERATE}"))
        modules.append(_pactl("load-module", "module-sine", f"sink={MICROPHONE_SINK}", f"frequency={TONE_HZ}"))
        assert _pactl("get-default-sink") == "loop"
        monkeypatch.setenv("PULSE_SOURCE", f"{MICROPHONE_SINK}.monitor")
        yield f"{MICROPHONE_SINK}.monitor"
    finally:
        for module in reversed(modules):
            _pactl("unload-module", module)


class SpeakerOutput:
    """What the rig's speaker (the sink ``loop``) plays, recorded from its monitor by
    ``parec``, mono float32 at 48 kHz."""

    CHUNK = SAMPLERATE // 20  # 50 ms

    def __init__(self, recorder: asyncio.subprocess.Process) -> None:
        self._recorder = recorder

    async def _chunk(self) -> np.ndarray:
        assert self._recorder.stdout is not None
        data = await self._recorder.stdout.readexactly(self.CHUNK * 4)
        return np.frombuffer(data, np.float32)

    async def waitForTone(self, frequency: float, amplitude: float, timeout: float = 20, seconds: float = 0.5) -> Tone:
        """Records until the last ``seconds`` hold the tone, within 1 % in frequency and 5 %
        in amplitude (at most ``timeout`` s); then the tone must go on for another second,
        in at least 95 of its 100 10-ms blocks (a late block now and then is this busy
        2-core machine; a broken stream leaves far more gaps)."""
        window: list[np.ndarray] = []
        heard: Tone | None = None
        deadline = time.monotonic() + timeout
        while not (
            heard is not None
            and heard.frequency == pytest.approx(frequency, rel=0.01)
            and heard.amplitude == pytest.approx(amplitude, rel=0.05)
        ):
            assert time.monotonic() < deadline, f"no {frequency} Hz tone at {amplitude} in {timeout} s; last: {heard}"
            window = [*window, await self._chunk()][-int(seconds * 20) :]
            if len(window) * self.CHUNK >= seconds * SAMPLERATE:
                heard = await asyncio.to_thread(_toneIn, np.concatenate(window), amplitude)
        after = np.concatenate([await self._chunk() for _ in range(20)])
        blockPeaks = np.abs(after).reshape(-1, SAMPLERATE // 100).max(axis=1)
        assert np.mean(blockPeaks > 0.8 * amplitude) >= 0.95, (
            f"the tone broke off: 10 ms peaks {np.round(blockPeaks, 2)}"
        )
        return heard


def _toneIn(recording: np.ndarray, amplitude: float) -> Tone | None:
    try:
        return measureTone(recording, SAMPLERATE, amplitude)
    except AssertionError:  # no tone, or too short a stretch of it
        return None


@asynccontextmanager
async def speakerOutput() -> AsyncIterator[SpeakerOutput]:
    recorder = await asyncio.create_subprocess_exec(
        "parec",
        "--raw",
        "--latency-msec=20",
        "-d",
        "loop.monitor",
        "--rate",
        str(SAMPLERATE),
        "--channels",
        "1",
        "--format",
        "float32le",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield SpeakerOutput(recorder)
    finally:
        recorder.terminate()
        await recorder.communicate()  # reads what is left: a paused pipe would never end


def _openPidfds(process: subprocess.Popen[str]) -> dict[int, int]:
    pidfds = {}
    for pid in descendantPids(process.pid):  # reads /proc: off the event loop
        with suppress(ProcessLookupError):
            pidfds[pid] = os.pidfd_open(pid)
    return pidfds


def _waitForExits(pidfds: dict[int, int], timeout: float) -> list[int]:
    """Waits until each process has exited; those still running after ``timeout``."""
    remaining = dict(pidfds)
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        ready, _, _ = select.select(list(remaining.values()), [], [], deadline - time.monotonic())
        remaining = {pid: fd for pid, fd in remaining.items() if fd not in ready}
    return sorted(remaining)


@asynccontextmanager
async def descendantsEnd(process: subprocess.Popen[str]) -> AsyncIterator[None]:
    """Notes every process the example started (its device children, a forkserver, the
    resource tracker) and, after the block, waits until each has exited."""
    pidfds = await asyncio.to_thread(_openPidfds, process)
    try:
        assert pidfds, "the example started no process"
        yield
        running = await asyncio.to_thread(_waitForExits, pidfds, 10)
        assert not running, f"processes of the example still running 10 s after it ended: {running}"
    finally:
        for fd in pidfds.values():
            os.close(fd)


def _noProblemsButXruns(errors: str) -> None:
    """Nothing on stderr but alsa-lib's own notes of an xrun: on this 2-core machine, busy
    with Chromium and the example's codecs, a sound card child sometimes misses its
    ~9 ms deadline (``latency="low"``), and alsa-lib prints that itself. The sound checks
    say whether what was played or recorded arrived."""
    xrun = re.compile(r"ALSA lib pcm\.c:\d+:\(snd_pcm_recover\) (underrun|overrun) occurred")
    problems = [line for line in errors.splitlines() if line and not xrun.fullmatch(line)]
    assert not problems, errors


def _endedByCtrlC(process: subprocess.Popen[str], errors: str) -> None:
    """A ``run_forever()`` example does not catch Ctrl-C: Python ends it by SIGINT, with
    KeyboardInterrupt's traceback, after its ``finally`` closed what it made."""
    assert process.returncode == -signal.SIGINT, errors
    assert errors.rstrip().endswith("KeyboardInterrupt"), errors
    assert "Warning" not in errors and "dropped" not in errors and errors.count("Traceback") == 1, errors


async def test_basics_audio_plays_the_microphone_on_the_speaker(toneMicrophone: str, tmp_path: Path) -> None:
    async with speakerOutput() as output:
        program = await asyncio.to_thread(_example, "basics/audio.py", tmp_path)
        process = await asyncio.to_thread(_runExample, program)
        try:
            heard = await output.waitForTone(TONE_HZ, TONE_AMPLITUDE)
            print(f"the speaker plays {heard.frequency:.1f} Hz at amplitude {heard.amplitude:.3f}")
            async with descendantsEnd(process):
                errors = await asyncio.to_thread(_interrupted, process)
        finally:
            if process.poll() is None:
                await asyncio.to_thread(_interrupted, process)
    _endedByCtrlC(process, errors)


# The page's received audio, through a WebAudio analyser, until it carries the tone: its
# spectrum's peak in the tone's frequency bin (or the next) and its level within 10 % of
# the tone's RMS. Returns the last measurement.
_LISTEN = """async ([frequency, rms, timeoutMs]) => {
  const audio = document.querySelector("audio");
  const started = performance.now();
  const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
  while (!audio.srcObject) {
    if (performance.now() - started > timeoutMs) return {timedOut: true, stream: false};
    await pause();
  }
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  context.createMediaStreamSource(audio.srcObject).connect(analyser);
  const spectrum = new Float32Array(analyser.frequencyBinCount);
  const samples = new Float32Array(analyser.fftSize);
  const binHz = context.sampleRate / analyser.fftSize;
  let heard = {timedOut: true};
  while (performance.now() - started < timeoutMs) {
    await pause();
    analyser.getFloatFrequencyData(spectrum);
    analyser.getFloatTimeDomainData(samples);
    let peak = 1;
    for (let i = 1; i < spectrum.length; i++) if (spectrum[i] > spectrum[peak]) peak = i;
    const level = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
    heard = {peakHz: peak * binHz, binHz, rms: level, state: context.state, afterMs: performance.now() - started};
    heard.timedOut = !(Math.abs(heard.peakHz - frequency) <= 1.5 * binHz && Math.abs(level - rms) < 0.1 * rms);
    if (!heard.timedOut) break;
  }
  await context.close();
  return heard;
}"""


async def test_streaming_audiovideo_sends_camera_and_microphone_to_the_browser(
    toneMicrophone: str, tmp_path: Path
) -> None:
    program = await asyncio.to_thread(_example, "streaming/audiovideo.py", tmp_path)  # 40 ms: unpacks the sdist
    async with chromiumPage() as page:  # first: its start-up, on both cores, would starve the example
        async with served(program, _noProblemsButXruns) as (address, _):
            ready = asyncio.ensure_future(_consoleMessage(page, "Ready!"))
            await page.goto(address)
            await ready
            await _assertShowsThePattern(page)
            heard = await page.evaluate(_LISTEN, [TONE_HZ, TONE_AMPLITUDE / np.sqrt(2), 15_000])
            print("the page hears", heard)
            assert not heard["timedOut"], f"the page's audio never carried the {TONE_HZ} Hz tone: {heard}"


def _writePattern(path: Path, width: int, height: int, frames: int) -> None:
    """The test pattern's first frames as a YUV4MPEG2 file: Chromium's fake camera plays it
    (looping) with ``--use-file-for-fake-video-capture``."""
    picture = np.empty((height, width, 3), np.uint8)
    with open(path, "wb") as y4m:
        y4m.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for number in range(frames):
            drawPattern(picture, number, 0)
            y4m.write(b"FRAME\n" + cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420).tobytes())


def _writeTone(path: Path, seconds: int) -> None:
    """The tone as 16-bit mono WAV, a whole number of periods: Chromium's fake microphone
    plays it (looping) with ``--use-file-for-fake-audio-capture``."""
    seconds_ = np.arange(seconds * SAMPLERATE) / SAMPLERATE
    samples = (TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * seconds_) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLERATE)
        file.writeframes(samples.tobytes())


#: How a window that shows only black is described.
_BLACK = "all black"


def _windowShowsThePattern(
    display: XDisplay, size: tuple[int, int], timeout: float, keep: Path
) -> tuple[int | None, str]:
    """Polls CVDisplay's first window (there is no event to wait for) until it shows a
    frame of the pattern: its number (or None), and what the window showed last (written
    to ``keep`` when it was not the pattern). Chromium's encoder may scale the camera down
    when the machine is busy: the picture is scaled back to the file's size first."""
    height, width = size
    deadline = time.monotonic() + timeout
    seen, last = "no window", None
    while time.monotonic() < deadline:
        picture = display.windowScreenshot("1")
        if picture is not None:
            seen = f"a {picture.shape[1]}x{picture.shape[0]} picture"
            if picture.shape[0] * width == picture.shape[1] * height:
                last = cv2.resize(picture[:, :, ::-1], (width, height), interpolation=cv2.INTER_LINEAR)  # RGB -> BGR
                number, error = patternError(last)
                if number is not None and error < 12:
                    return number, seen
                seen += f", frame {number}, {error:.1f} levels off the pattern"
                if last.max() < 16:
                    seen += f", {_BLACK}"
        time.sleep(0.1)
    if last is not None:
        cv2.imwrite(str(keep), last)
        seen += f" (kept as {keep})"
    return None, seen


#: What the page's browser says it sends: frames from its camera, frames encoded and their size.
_BROWSER_SENDS = """async () => {
  const stats = [...(await conn._pc.getStats()).values()];
  const source = stats.find((e) => e.type === "media-source" && e.kind === "video") || {};
  const sent = stats.find((e) => e.type === "outbound-rtp" && e.kind === "video") || {};
  return `camera frames ${source.frames}, encoded ${sent.framesEncoded} at ${sent.frameWidth}x${sent.frameHeight}`;
}"""


async def _browserAudioVideo(xDisplay: XDisplay, tmp_path: Path) -> tuple[int | None, str, Tone | None]:
    """One run of the example with a browser: the pattern frame the window showed (or None),
    what it showed last and what the browser said it sent, and the tone the speaker played."""
    width, height = 320, 240  # small: the browser encodes and the example decodes it on the same two cores
    pattern, tone = tmp_path / "pattern.y4m", tmp_path / "tone.wav"
    await asyncio.to_thread(_writePattern, pattern, width, height, 30)
    await asyncio.to_thread(_writeTone, tone, 2)
    fakeDevices = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={pattern}",
        f"--use-file-for-fake-audio-capture={tone}",
    ]
    program = await asyncio.to_thread(_example, "streaming/browser_audiovideo.py", tmp_path)
    heard = None
    # The browser starts first: its start-up, on both cores, would starve the example's speaker.
    async with chromiumPage(fakeDevices) as page, served(program, _noProblemsButXruns) as (address, _):
        ready = asyncio.ensure_future(_consoleMessage(page, "Ready!"))
        await page.goto(address)
        await ready
        shown, seen = await asyncio.to_thread(
            _windowShowsThePattern, xDisplay, (height, width), 20, tmp_path / "window.png"
        )
        if shown is not None:
            async with speakerOutput() as output:
                heard = await output.waitForTone(TONE_HZ, TONE_AMPLITUDE)
        else:
            seen += "; the browser says: " + await page.evaluate(_BROWSER_SENDS)
    return shown, seen, heard


async def test_browser_audiovideo_shows_and_plays_the_browsers_camera_and_microphone(
    audioRig: AudioRig, xDisplay: XDisplay, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    await asyncio.to_thread(first.mkdir)
    shown, seen, heard = await _browserAudioVideo(xDisplay, first)
    if shown is None and _BLACK in seen:
        # Seen in 2 of about 13 full-suite runs, never alone: the window showed black 320x240
        # frames for 20 s. The cause is not found yet (open); one more run, said out loud.
        print(f"first run: {seen}; running the example once more")
        again = tmp_path / "again"
        await asyncio.to_thread(again.mkdir)
        shown, seen, heard = await _browserAudioVideo(xDisplay, again)
    # Asserted once the example ended: what it said on stderr is checked (and shown) first.
    assert shown is not None, f"CVDisplay's window never showed the browser's camera (the pattern); last {seen}"
    print(f"the window shows frame {shown}; the speaker plays {heard}")


async def test_basicserver_serves_its_page_whose_button_logs_a_click(tmp_path: Path) -> None:
    program = await asyncio.to_thread(_example, "webrtc/basicserver.py", tmp_path)
    async with served(program) as (address, _), chromiumPage() as page:
        await page.goto(address)
        assert await page.title() == "RTCBot: Basic"
        assert await page.inner_text("h1") == "Click the Button"
        clicked = asyncio.ensure_future(_consoleMessage(page, "I was just clicked!"))
        await page.click("#mybutton")
        assert await clicked == "I was just clicked!"
