"""Recording a microphone's blocks, and measuring a recorded tone: where it starts, its
frequency and its amplitude."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from rtcbot import Frame

from ..rigs import SAMPLERATE


@dataclass(frozen=True)
class Tone:
    onset: int
    """Index of the first sample louder than a quarter of the expected amplitude."""
    end: int
    """Index just after the last such sample."""
    frequency: float
    amplitude: float


def toneSpan(recording: np.ndarray, expectedAmplitude: float) -> tuple[int, int]:
    """The first and just after the last sample louder than a quarter of the amplitude."""
    loud = np.flatnonzero(np.abs(recording) > expectedAmplitude / 4)
    if loud.size == 0:
        raise AssertionError(f"no tone in the recording (loudest sample {np.abs(recording).max():.4f})")
    return int(loud[0]), int(loud[-1]) + 1


def measureTone(recording: np.ndarray, samplerate: float, expectedAmplitude: float) -> Tone:
    """Finds the tone in a mono recording and measures a steady stretch of it (skipping its
    first 0.1 s) by FFT with a Hann window and parabolic peak interpolation."""
    onset, end = toneSpan(recording, expectedAmplitude)
    steady = recording[onset + int(0.1 * samplerate) : end - int(0.05 * samplerate)]
    if steady.size < 0.2 * samplerate:
        raise AssertionError(f"the recorded tone is only {(end - onset) / samplerate:.3f} s long")
    window = np.hanning(steady.size)
    spectrum = np.abs(np.fft.rfft(steady * window))
    peak = int(np.argmax(spectrum))
    below, at, above = np.log(spectrum[peak - 1 : peak + 2] + 1e-20)
    shift = 0.5 * (below - above) / (below - 2 * at + above)
    frequency = (peak + shift) * samplerate / steady.size
    amplitude = float(np.sqrt(2) * np.sqrt(np.mean(steady.astype(np.float64) ** 2)))
    return Tone(onset, end, float(frequency), amplitude)


class Recorder:
    """Keeps copies of a microphone's blocks; lets a test wait until a given capture time."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, np.ndarray]] = []
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []

    def __call__(self, block: Frame) -> None:
        self.blocks.append((block.timestamp, block.copy()))
        for until, future in self._waiting:
            if block.timestamp >= until and not future.done():
                future.set_result(None)

    async def until(self, monotonicNs: int) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((monotonicNs, future))
        if self.blocks and self.blocks[-1][0] >= monotonicNs:
            return
        await future

    def recording(self) -> np.ndarray:
        return np.concatenate([block[:, 0] for _, block in self.blocks])

    def timeOf(self, sample: int) -> int:
        """The capture time of a sample of ``recording()``, in monotonic ns."""
        offset = sample
        for timestamp, block in self.blocks:
            if offset < len(block):
                return timestamp + int(offset / SAMPLERATE * 1e9)
            offset -= len(block)
        raise IndexError(sample)
