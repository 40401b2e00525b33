"""Measuring a recorded tone: where it starts, its frequency and its amplitude."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
