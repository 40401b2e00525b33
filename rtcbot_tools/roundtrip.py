"""The audio round trip: clicks played by a Speaker, found again in what a Microphone records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rtcbot import Frame, Microphone, Speaker

from .scenarios import READY_TIMEOUT_S, ProfilerError, RunResult, watchFor
from .stages import StageStatistics
from .usage import UsageWatch

SAMPLERATE = 48000
BLOCK = 480  # 10 ms blocks fed to the speaker in real time
CLICK_PERIOD_S = 0.25
ROUND_TRIP = "played → recorded (round trip)"


def clickWave() -> np.ndarray[Any, np.dtype[np.float32]]:
    """A 10 ms chirp from 1 to 6 kHz in a Hann window: sharp when correlated, easy to hear."""
    t = np.arange(BLOCK) / SAMPLERATE
    sweep = np.sin(2 * np.pi * (1000 * t + 0.5 * (5000 / t[-1]) * t**2))
    wave: np.ndarray[Any, np.dtype[np.float32]] = (0.5 * np.hanning(BLOCK) * sweep).astype(np.float32)
    return wave


def findClicks(recording: np.ndarray[Any, Any], click: np.ndarray[Any, Any], minimumGap: int) -> list[int]:
    """Sample indices where ``click`` starts in ``recording`` (matched filter, peaks at
    least ``minimumGap`` apart and above half the strength of a full-volume click)."""
    size = len(recording) + len(click)
    spectrum = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(click, size))
    correlation = np.fft.irfft(spectrum, size)[: len(recording)]
    threshold = 0.5 * float(np.dot(click, click))
    onsets: list[int] = []
    candidates = np.flatnonzero(correlation > threshold)
    while candidates.size:
        window = candidates[candidates < candidates[0] + minimumGap]
        onsets.append(int(window[np.argmax(correlation[window])]))
        candidates = candidates[candidates >= candidates[0] + minimumGap]
    return onsets


async def runRoundTrip(seconds: float, device: int | str | None, tick: Callable[[float], None]) -> RunResult:
    """Plays clicks for ``seconds`` and measures when each comes back."""
    watch = UsageWatch()
    watch.start(time.monotonic())
    microphone = Microphone(channels=1, blocksize=BLOCK, device=device)
    speaker = Speaker(channels=1, device=device)
    blocks: list[tuple[int, np.ndarray[Any, Any]]] = []

    def record(block: Frame) -> None:
        blocks.append((block.timestamp, block[:, 0].copy()))

    microphone.subscribe(record)
    sent: list[int] = []
    try:
        for device_ in (microphone, speaker):
            try:
                await asyncio.wait_for(device_.onReady(), READY_TIMEOUT_S)
            except Exception:
                raise ProfilerError(f"{type(device_).__name__}: {device_.error or 'not ready in time'}") from None
        feeder = asyncio.ensure_future(_feedClicks(speaker, seconds, sent))
        await watchFor(seconds, watch, tick)
        await feeder
        await asyncio.sleep(0.3)  # the last click's way back
    finally:
        for device_ in (microphone, speaker):
            device_.close()
            await device_
    recording = np.concatenate([samples for _, samples in blocks]) if blocks else np.zeros(0, np.float32)
    starts = np.cumsum([0] + [len(samples) for _, samples in blocks])
    onsets = findClicks(recording, clickWave(), int(CLICK_PERIOD_S * SAMPLERATE / 2))
    trips = []
    for onset in onsets:
        index = int(np.searchsorted(starts, onset, side="right")) - 1
        recordedAt = blocks[index][0] + int((onset - starts[index]) / SAMPLERATE * 1e9)
        before = [t for t in sent if t <= recordedAt]
        if before:
            trips.append(recordedAt - before[-1])
    stages = [StageStatistics.of(ROUND_TRIP, np.array(trips, np.int64))] if trips else []
    drops = {"clicks not found in the recording": max(0, len(sent) - len(trips))}
    status = microphone.audioStatus
    if status is not None:
        drops["microphone overflows"] = status.overflows
    if speaker.audioStatus is not None:
        drops["speaker underruns"] = speaker.audioStatus.underruns
    return RunResult(
        "rtcbot",
        "roundtrip",
        "click",
        1,
        False,
        False,
        seconds,
        len(trips),
        round(len(trips) / seconds, 2),
        drops,
        stages,
        watch.usage(),
    )


async def _feedClicks(speaker: Speaker, seconds: float, sent: list[int]) -> None:
    """Feeds 10 ms blocks in real time: silence, with a click every CLICK_PERIOD_S."""
    silence, click = np.zeros(BLOCK, np.float32), clickWave()
    everyBlocks = int(CLICK_PERIOD_S * SAMPLERATE / BLOCK)
    start = time.monotonic()
    for index in range(int(seconds * SAMPLERATE / BLOCK)):
        await asyncio.sleep(max(0.0, start + index * BLOCK / SAMPLERATE - time.monotonic()))
        isClick = index % everyBlocks == everyBlocks - 1
        if isClick:
            sent.append(time.monotonic_ns())
        speaker.put_nowait(click if isClick else silence)
