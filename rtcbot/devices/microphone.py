"""Microphones: a sound card input through sounddevice, and a synthetic tone or chirp."""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

import numpy as np

from ..base.multiprocess import ProcessSubscriptionProducer
from ..shm.frame import Frame
from ._audiodevice import (
    SoundCardDevice,
    checkAudioSettings,
    checkStreamRunning,
    importSounddevice,
    resolveChannels,
)
from ._audiostatus import REPORT_INTERVAL, AudioStatus, AudioWatch

#: Audio blocks are small: enough slots that a subscriber a second behind loses nothing.
AUDIO_SLOT_COUNT = 64


def _audioDefaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs.setdefault("defaultSubscriptionClass", asyncio.Queue)
    kwargs.setdefault("slotCount", AUDIO_SLOT_COUNT)
    return kwargs


class Microphone(SoundCardDevice, ProcessSubscriptionProducer[Frame]):
    """Blocks of float32 samples, shape (blocksize, channels), from a sound card input.

    The stream runs in a child process (sounddevice / PortAudio); blocks reach the parent
    through shared memory. Each block's ``timestamp`` is the time its first sample was
    captured, on the ``time.monotonic_ns()`` clock (mapped from the device's clock, which
    is kept as ``deviceTimestamp``). ``channels=None`` takes the device's channels, at most
    two; ``device`` is a sounddevice name or index (None: the default input). Overflows
    are counted in ``audioStatus``. The default subscription queues every block.
    """

    def __init__(
        self,
        samplerate: float = 48000,
        channels: int | None = None,
        blocksize: int = 1024,
        device: int | str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        latency: float | str = "low",
        **kwargs: Any,
    ) -> None:
        self._initSoundCard(samplerate, channels, blocksize, device, latency)
        super().__init__(loop=loop, **_audioDefaults(kwargs))
        self._initAudioWatch()

    def _producer(self) -> None:
        sd = importSounddevice(type(self).__name__)
        channels = resolveChannels(sd, self.device, "input", self.channels)
        blocks: queue.SimpleQueue[tuple[np.ndarray[Any, Any], int, float]] = queue.SimpleQueue()
        overflows = 0

        def onAudio(indata: np.ndarray[Any, Any], frames: int, times: Any, status: Any) -> None:
            nonlocal overflows
            now = time.monotonic_ns()
            overflows += bool(status.input_overflow)
            age = times.currentTime - times.inputBufferAdcTime
            captured = now - int(age * 1e9) if times.inputBufferAdcTime > 0 and 0 <= age < 1 else now
            blocks.put((indata.copy(), captured, times.inputBufferAdcTime))

        stream, reporter = self._openSoundCard(sd, "input", channels, onAudio)
        with stream:
            self._setReady(True)
            while not self._shouldClose:
                try:
                    block, captured, deviceTime = blocks.get(timeout=REPORT_INTERVAL)
                except queue.Empty:
                    checkStreamRunning(stream, "input")
                    reporter.report()
                    continue
                self._put_nowait(block, timestamp=captured, deviceTimestamp=deviceTime)
                reporter.update(overflows=overflows)


class SyntheticMicrophone(AudioWatch, ProcessSubscriptionProducer[Frame]):
    """A microphone that needs no hardware: a sine tone, or a chirp, in real time.

    Blocks are float32 (blocksize, channels) with the same timestamps a :class:`Microphone`
    gives. With ``chirpTo`` the frequency sweeps linearly from ``frequency`` to ``chirpTo``
    over ``chirpSeconds``, then starts again. ``seconds`` limits the length (None: until closed).
    """

    def __init__(
        self,
        samplerate: float = 48000,
        channels: int = 1,
        blocksize: int = 1024,
        frequency: float = 440.0,
        amplitude: float = 0.5,
        *,
        chirpTo: float | None = None,
        chirpSeconds: float = 1.0,
        seconds: float | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        checkAudioSettings(samplerate, channels, blocksize)
        nyquist = samplerate / 2
        for name, value in (("frequency", frequency), ("chirpTo", chirpTo)):
            if value is not None and not 0 <= value < nyquist:
                raise ValueError(f"{name} must be between 0 and {nyquist:g} Hz (half the samplerate), got {value}")
        if not 0 <= amplitude <= 1:
            raise ValueError(f"amplitude must be between 0 and 1, got {amplitude}")
        if chirpSeconds <= 0:
            raise ValueError(f"chirpSeconds must be positive, got {chirpSeconds}")
        self.samplerate, self.channels, self.blocksize = samplerate, channels, blocksize
        self.frequency, self.amplitude = frequency, amplitude
        self.chirpTo, self.chirpSeconds, self.seconds = chirpTo, chirpSeconds, seconds
        super().__init__(loop=loop, **_audioDefaults(kwargs))
        self._initAudioWatch()

    def _frequencies(self, first: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        index = np.arange(first, first + self.blocksize)
        if self.chirpTo is None:
            return np.full(self.blocksize, self.frequency)
        position = (index / self.samplerate % self.chirpSeconds) / self.chirpSeconds
        return self.frequency + (self.chirpTo - self.frequency) * position

    def _producer(self) -> None:
        self._notify(AudioStatus("synthetic", self.samplerate, self.channels, self.blocksize, 0.0))
        self._setReady(True)
        phase = 0.0
        first = 0
        total = None if self.seconds is None else int(self.seconds * self.samplerate)
        start = time.monotonic_ns()
        while total is None or first < total:
            due = start + int(first / self.samplerate * 1e9)
            if self._sleep((due - time.monotonic_ns()) / 1e9):
                return
            steps = 2 * np.pi * self._frequencies(first) / self.samplerate
            phases = phase + np.cumsum(steps) - steps
            phase = float((phases[-1] + steps[-1]) % (2 * np.pi))
            wave = (self.amplitude * np.sin(phases)).astype(np.float32)
            self._put_nowait(np.repeat(wave[:, np.newaxis], self.channels, axis=1), timestamp=due)
            first += self.blocksize
