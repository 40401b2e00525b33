"""The speaker's conversions and jitter buffer, and the synthetic microphone (no rig needed)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rtcbot import Frame, SyntheticMicrophone
from rtcbot.devices._audioblocks import BadAudioBlock, toPlayable
from rtcbot.devices._samplefifo import SampleFifo

from .audiocheck import measureTone


@pytest.mark.parametrize(
    "block, channels, expected",
    [
        (np.array([0.5, -0.5], np.float64), 2, [[0.5, 0.5], [-0.5, -0.5]]),
        (np.array([[16384], [-32768]], np.int16), 1, [[0.5], [-1.0]]),
        (np.array([2**30], np.int32), 1, [[0.5]]),
        (np.array([192, 64], np.uint8), 1, [[0.5], [-0.5]]),
        (np.array([[0.2, 0.4]], np.float32), 1, [[0.3]]),
        (np.array([[0.2, 0.4]], np.float32), 2, [[0.2, 0.4]]),
    ],
)
def test_blocks_become_float32_samples_by_channels(block: np.ndarray, channels: int, expected: list) -> None:
    playable = toPlayable(block, channels)
    assert playable.dtype == np.float32
    np.testing.assert_allclose(playable, np.array(expected, np.float32), rtol=1e-6)


@pytest.mark.parametrize(
    "block, message",
    [
        ([0.1, 0.2], "numpy arrays"),
        (np.array(["a"]), "float, int16, int32 or uint8"),
        (np.zeros((4, 3), np.float32), "3 channels"),
        (np.zeros((2, 2, 2), np.float32), r"\(samples,\) or \(samples, channels\)"),
    ],
)
def test_blocks_that_cannot_play_say_why(block: object, message: str) -> None:
    with pytest.raises(BadAudioBlock, match=message):
        toPlayable(block, 2)


def _ramp(start: int, count: int) -> np.ndarray:
    return np.arange(start, start + count, dtype=np.float32)[:, np.newaxis]


def test_the_fifo_reblocks_any_sizes_in_order() -> None:
    fifo = SampleFifo(capacity=100, channels=1, prime=0)
    written = 0
    for size in (7, 30, 1, 12):
        fifo.write(_ramp(written, size))
        written += size
    out = np.empty((16, 1), np.float32)
    played = []
    while fifo.size:
        count = fifo.read(out)
        played.extend(out[:count, 0])
    assert played == list(range(written))


def test_the_fifo_waits_for_prime_then_plays_until_dry_and_counts_one_underrun() -> None:
    fifo = SampleFifo(capacity=100, channels=1, prime=20)
    out = np.full((10, 1), 7, np.float32)
    fifo.write(_ramp(0, 15))
    assert fifo.read(out) == 0 and not out.any(), "silence until primed"
    fifo.write(_ramp(15, 10))
    assert fifo.read(out) == 10 and fifo.read(out) == 10 and fifo.read(out) == 5
    assert list(out[:5, 0]) == list(range(20, 25)) and not out[5:].any()
    assert fifo.underruns == 1
    assert fifo.read(out) == 0 and fifo.underruns == 1, "silence while unprimed is not another underrun"


def test_the_fifo_trims_the_oldest_down_to_prime_when_over_capacity() -> None:
    fifo = SampleFifo(capacity=50, channels=1, prime=10)
    fifo.write(_ramp(0, 45))
    fifo.write(_ramp(45, 8))  # 53 > 50: keep the newest 10
    assert fifo.size == 10 and fifo.framesTrimmed == 43
    out = np.empty((10, 1), np.float32)
    assert fifo.read(out) == 10 and list(out[:, 0]) == list(range(43, 53))
    fifo.write(_ramp(0, 80))  # one block bigger than capacity: its newest 50
    assert fifo.size == 50 and fifo.framesTrimmed == 43 + 30


async def test_the_synthetic_microphone_gives_a_real_time_tone_in_blocks() -> None:
    microphone = SyntheticMicrophone(16000, channels=2, blocksize=400, frequency=1234, amplitude=0.25, seconds=0.5)
    blocks: list[Frame] = []
    microphone.subscribe(blocks.append)
    await microphone.onClose()
    await microphone
    assert len(blocks) == 20 and all(b.shape == (400, 2) and b.dtype == np.float32 for b in blocks)
    recording = np.concatenate(blocks)
    assert np.array_equal(recording[:, 0], recording[:, 1])
    tone = measureTone(recording[:, 0], 16000, 0.25)
    assert tone.frequency == pytest.approx(1234, rel=0.001) and tone.amplitude == pytest.approx(0.25, rel=0.01)
    steps = np.diff([block.timestamp for block in blocks]) / 1e9
    np.testing.assert_allclose(steps, 400 / 16000, rtol=0.01)
    assert np.abs(np.diff(recording[:, 0])).max() < 2 * np.pi * 1234 / 16000 * 0.25 * 1.01, "no phase jumps"


async def test_the_synthetic_chirp_sweeps_between_its_frequencies() -> None:
    microphone = SyntheticMicrophone(8000, blocksize=800, frequency=500, chirpTo=1500, chirpSeconds=1.0, seconds=1.0)
    blocks: asyncio.Queue[Frame] = asyncio.Queue()
    microphone.subscribe(blocks)
    recording = np.concatenate([(await blocks.get())[:, 0] for _ in range(10)])
    await microphone
    crossings = np.flatnonzero(np.diff(np.signbit(recording)))
    firstTenth = len([c for c in crossings if c < 800]) / 2 / 0.1
    lastTenth = len([c for c in crossings if c >= 7200]) / 2 / 0.1
    assert firstTenth == pytest.approx(550, rel=0.05) and lastTenth == pytest.approx(1450, rel=0.05)
