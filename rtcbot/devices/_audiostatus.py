"""What an audio device's child reports to the parent: the stream it opened and its
counters of trouble. The parent keeps the latest as ``audioStatus``."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..base._processobject import ProcessObject

#: The child reports changed counters at most this often (seconds).
REPORT_INTERVAL = 0.2


@dataclass(frozen=True)
class AudioStatus:
    """An audio stream as opened, and its counters since."""

    device: str
    samplerate: float
    channels: int
    blocksize: int
    latency: float
    """The stream's latency as the device reports it, in seconds."""
    overflows: int = 0
    """Microphone: times the device had to discard input because it was not read in time."""
    underruns: int = 0
    """Speaker: times playback ran dry and silence was played (the device's own reports
    plus the speaker's buffer running empty)."""
    framesTrimmed: int = 0
    """Speaker: frames discarded to keep latency bounded (it was fed faster than real time)."""
    rejectedBlocks: int = 0
    """Speaker: blocks that could not be played (wrong dtype or shape; each one is logged)."""


class AudioWatch(ProcessObject):
    """Parent-side: keeps the latest :class:`AudioStatus` from the child."""

    _parentOnly: ClassVar[frozenset[str]] = frozenset({"_audioStatus"})
    samplerate: float

    def _initAudioWatch(self) -> None:
        self._audioStatus: AudioStatus | None = None

    @property
    def audioStatus(self) -> AudioStatus | None:
        """The stream the child opened and its counters (None until it is open). Counters
        are at most 0.2 s old."""
        return self._audioStatus

    def _reprDetails(self) -> list[str]:
        """Adds the sample rate: the stream's once open, else the one asked for."""
        rate = self.samplerate if self._audioStatus is None else self._audioStatus.samplerate
        return [*super()._reprDetails(), f"{rate:g} Hz"]

    def _onChildNotice(self, notice: Any) -> None:
        if isinstance(notice, AudioStatus):
            self._audioStatus = notice
        else:
            super()._onChildNotice(notice)


class StatusReporter:
    """In the child: sends the status when it changed, at most every ``REPORT_INTERVAL``."""

    def __init__(self, notify: Any, status: AudioStatus) -> None:
        self._notify = notify
        self.status = status
        self._sent: AudioStatus | None = None
        self._sentAt = 0.0
        self.report(force=True)

    def update(self, **counters: Any) -> None:
        self.status = replace(self.status, **counters)
        self.report()

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.status != self._sent and (force or now - self._sentAt >= REPORT_INTERVAL):
            self._notify(self.status)
            self._sent, self._sentAt = self.status, now
