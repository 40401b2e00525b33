"""A speaker: blocks from the event loop played by a sounddevice output stream in a child."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

from .._ratelimit import RateLimitedLog
from ..base.multiprocess import ProcessSubscriptionConsumer
from ._audioblocks import BadAudioBlock, toPlayable
from ._audiodevice import SoundCardDevice, checkStreamRunning, importSounddevice, resolveChannels
from ._audiostatus import REPORT_INTERVAL
from ._samplefifo import SampleFifo
from .microphone import AUDIO_SLOT_COUNT


class Speaker(SoundCardDevice, ProcessSubscriptionConsumer[np.ndarray[Any, Any]]):
    """Plays audio blocks on a sound card output, in a child process.

    Blocks may have any length: they are re-blocked to the device's ``blocksize``. Float
    (-1..1), int16, int32 or uint8 samples; (samples,) or (samples, 1) mono plays on every
    channel, more channels are averaged into a mono device. A block that cannot be played
    is logged, counted (``audioStatus.rejectedBlocks``) and skipped.

    Playback starts once two device blocks are buffered and restarts that way after running
    dry (counted in ``audioStatus.underruns``). Fed faster than real time, it never holds
    more than ``maxLatency`` seconds: the oldest samples are discarded instead
    (``audioStatus.framesTrimmed``). ``channels=None`` takes the device's, at most two.
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
        maxLatency: float = 0.25,
        **kwargs: Any,
    ) -> None:
        self._initSoundCard(samplerate, channels, blocksize, device, latency)
        if not maxLatency * samplerate > 2 * blocksize:
            raise ValueError(
                f"maxLatency={maxLatency} s holds less than the two blocks of {blocksize} samples the "
                f"speaker buffers before playing; give at least {2 * blocksize / samplerate:.3f} s more"
            )
        self.maxLatency = maxLatency
        kwargs.setdefault("slotCount", AUDIO_SLOT_COUNT)
        super().__init__(loop=loop, **kwargs)
        self._initAudioWatch()

    def _consumer(self) -> None:
        sd = importSounddevice(type(self).__name__)
        channels = resolveChannels(sd, self.device, "output", self.channels)
        fifo = SampleFifo(int(self.maxLatency * self.samplerate), channels, prime=2 * self.blocksize)
        deviceUnderflows = 0

        def play(outdata: np.ndarray[Any, Any], frames: int, times: Any, status: Any) -> None:
            nonlocal deviceUnderflows
            deviceUnderflows += bool(status.output_underflow)
            fifo.read(outdata)

        stream, reporter = self._openSoundCard(sd, "output", channels, play)
        with stream:
            log = RateLimitedLog(self._log)
            rejected = 0
            self._setReady(True)
            while True:
                try:
                    fifo.write(toPlayable(self._get(timeout=REPORT_INTERVAL), channels))
                except TimeoutError:
                    pass
                except BadAudioBlock as error:
                    rejected += 1
                    log.log("rejected", logging.ERROR, "skipped an audio block: %s", error)
                checkStreamRunning(stream, "output")
                reporter.update(
                    underruns=fifo.underruns + deviceUnderflows,
                    framesTrimmed=fifo.framesTrimmed,
                    rejectedBlocks=rejected,
                )
