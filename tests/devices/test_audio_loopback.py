"""Speaker and Microphone against a real sound server: a PulseAudio null sink (the speaker
plays into it) and its monitor (the microphone records it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import pytest

from rtcbot import Frame, Microphone, Speaker, SyntheticMicrophone
from rtcbot.devices import AudioDeviceError

from ..rigs import SAMPLERATE, AudioRig
from .audiocheck import Recorder, measureTone, toneSpan

pytestmark = pytest.mark.loop_timeout(30)


async def _record(play: Callable[[Speaker], asyncio.Future[None] | None], speaker: Speaker, seconds: float) -> Recorder:
    microphone = Microphone(channels=1, blocksize=480)
    recorder = Recorder()
    microphone.subscribe(recorder)
    try:
        await asyncio.gather(microphone.onReady(), speaker.onReady())
        await recorder.until(time.monotonic_ns() + 200_000_000)  # some silence first
        finished = play(speaker)
        if finished is not None:
            await finished
        await recorder.until(time.monotonic_ns() + int(seconds * 1e9))
    finally:
        microphone.close()
        speaker.close()
        await asyncio.gather(microphone, speaker)
    return recorder


async def _finished(source: SyntheticMicrophone) -> None:
    await source.onClose()
    await source


def _tone(seconds: float, frequency: float = 1000, amplitude: float = 0.5) -> np.ndarray:
    time = np.arange(int(seconds * SAMPLERATE)) / SAMPLERATE
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


async def test_a_tone_comes_back_at_the_same_frequency_and_amplitude(
    audioRig: AudioRig, record_property: Callable[[str, object], None]
) -> None:
    started: list[int] = []

    def play(speaker: Speaker) -> asyncio.Future[None]:
        # Blocks of 700 samples, while the speaker plays blocks of 1024: re-blocked.
        source = SyntheticMicrophone(SAMPLERATE, 1, blocksize=700, frequency=1000, amplitude=0.5, seconds=1.0)
        source.subscribe(lambda block: started.append(block.timestamp) if not started else None)
        speaker.putSubscription(source)
        return asyncio.ensure_future(_finished(source))

    recorder = await _record(play, Speaker(channels=1), seconds=0.4)
    tone = await asyncio.to_thread(measureTone, recorder.recording(), SAMPLERATE, 0.5)
    assert tone.frequency == pytest.approx(1000, rel=0.01)
    assert tone.amplitude == pytest.approx(0.5, rel=0.05)
    assert (tone.end - tone.onset) / SAMPLERATE == pytest.approx(1.0, abs=0.05)
    roundTrip = (recorder.timeOf(tone.onset) - started[0]) / 1e6
    record_property("audio round trip ms", round(roundTrip, 1))
    print(
        f"round trip, synthetic microphone -> Speaker -> null sink -> Microphone: {roundTrip:.1f} ms; "
        f"tone {tone.frequency:.2f} Hz, amplitude {tone.amplitude:.4f}"
    )
    assert 0 < roundTrip < 300


async def test_mono_int16_blocks_play_on_a_stereo_speaker(audioRig: AudioRig) -> None:
    tone = (_tone(0.6, frequency=440, amplitude=0.3) * 32767).astype(np.int16)

    def play(speaker: Speaker) -> None:
        for piece in np.array_split(tone, 60):
            speaker.put_nowait(piece)

    speaker = Speaker(channels=2, maxLatency=1.0)
    recorder = await _record(play, speaker, seconds=0.8)
    measured = await asyncio.to_thread(measureTone, recorder.recording(), SAMPLERATE, 0.3)
    assert measured.frequency == pytest.approx(440, rel=0.01)
    assert measured.amplitude == pytest.approx(0.3, rel=0.05)
    assert speaker.audioStatus is not None and speaker.audioStatus.channels == 2


async def test_fed_faster_than_real_time_the_speaker_keeps_latency_bounded(audioRig: AudioRig) -> None:
    def play(speaker: Speaker) -> None:
        for piece in np.array_split(_tone(3.0), 300):  # 3 s of audio at once
            speaker.put_nowait(piece)

    speaker = Speaker(channels=1, maxLatency=0.25)
    recorder = await _record(play, speaker, seconds=0.8)
    onset, end = await asyncio.to_thread(toneSpan, recorder.recording(), 0.5)
    # Over capacity the speaker drops the oldest down to its priming level (two 1024-sample
    # blocks), so what still plays lies between that and maxLatency.
    assert 2 * 1024 / SAMPLERATE - 0.01 < (end - onset) / SAMPLERATE < 0.25 + 0.03
    # Every sample is accounted for: played, trimmed by the speaker, or dropped in transport.
    assert speaker.audioStatus is not None
    droppedBlocks = speaker.statistics().toChild.dropped["slotsFull"]
    accounted = (end - onset) + speaker.audioStatus.framesTrimmed + droppedBlocks * 480
    assert accounted == pytest.approx(3.0 * SAMPLERATE, abs=0.03 * SAMPLERATE)


async def test_running_dry_counts_an_underrun_and_a_bad_block_is_skipped(audioRig: AudioRig) -> None:
    def play(speaker: Speaker) -> None:
        speaker.put_nowait(np.array(["not", "audio"]))
        speaker.put_nowait(_tone(0.5))

    speaker = Speaker(channels=1, maxLatency=1.0)
    recorder = await _record(play, speaker, seconds=0.8)
    measured = await asyncio.to_thread(measureTone, recorder.recording(), SAMPLERATE, 0.5)
    assert measured.frequency == pytest.approx(1000, rel=0.01)
    status = speaker.audioStatus
    assert status is not None
    assert status.rejectedBlocks == 1
    assert status.underruns >= 1


async def test_the_microphone_reports_its_stream_and_timestamps_blocks(audioRig: AudioRig) -> None:
    microphone = Microphone(channels=1, blocksize=256)
    blocks: asyncio.Queue[Frame] = asyncio.Queue()
    microphone.subscribe(blocks)
    try:
        received = [await blocks.get() for _ in range(20)]
    finally:
        microphone.close()
        await microphone
    assert all(block.shape == (256, 1) and block.dtype == np.float32 for block in received)
    steps = np.diff([block.timestamp for block in received]) / 1e9
    assert np.median(steps) == pytest.approx(256 / SAMPLERATE, rel=0.1)
    assert received[-1].timestamp <= time.monotonic_ns()
    status = microphone.audioStatus
    assert status is not None
    assert (status.samplerate, status.channels, status.blocksize) == (SAMPLERATE, 1, 256)
    assert status.overflows == 0


@pytest.mark.parametrize("deviceClass", [Microphone, Speaker])
async def test_an_unknown_device_is_a_clear_error(audioRig: AudioRig, deviceClass: type) -> None:
    device = deviceClass(device="no such card")
    error = await device.onError()
    await device
    assert isinstance(error, AudioDeviceError)
    assert "'no such card'" in str(error) and "devices:" in str(error)
    assert device.closed


class _CallbackFailsAfterTenBlocks:
    """Opens the real stream with a callback that raises on its 10th call, as a device
    library's bug would: PortAudio then stops the stream by itself."""

    def _openSoundCard(self, sd: object, kind: str, channels: int, callback: Callable[..., None]) -> object:
        calls = 0

        def failing(*args: object) -> None:
            nonlocal calls
            calls += 1
            if calls == 10:
                raise RuntimeError("bug in the callback")
            callback(*args)

        return super()._openSoundCard(sd, kind, channels, failing)  # type: ignore[misc]


class _FailingMicrophone(_CallbackFailsAfterTenBlocks, Microphone):
    pass


class _FailingSpeaker(_CallbackFailsAfterTenBlocks, Speaker):
    pass


@pytest.mark.parametrize("deviceClass", [_FailingMicrophone, _FailingSpeaker])
async def test_a_stream_that_portaudio_stopped_is_an_error_not_a_hang(audioRig: AudioRig, deviceClass: type) -> None:
    device = deviceClass(blocksize=256)
    error = await device.onError()
    await device
    assert isinstance(error, AudioDeviceError) and "stopped by itself" in str(error)
    assert device.closed
