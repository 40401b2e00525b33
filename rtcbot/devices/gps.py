"""A GPS receiver on a serial port: RTCBot's ``GPS``, NMEA sentences parsed by pynmea2 (the
``rtcbot[gps]`` extra)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..arduino import SerialConnection
from ..base import BaseSubscriptionProducer
from ..base.base import ProducerStatistics
from ._libraries import importLibrary

__all__ = ["GPS", "GPSStatistics"]

_log = logging.getLogger("rtcbot.GPS")


@dataclass(frozen=True)
class GPSStatistics(ProducerStatistics):
    """A GPS's counters."""

    badSentences: int
    """Lines that were not valid NMEA (a wrong checksum, cut short, noise): skipped."""


class GPS(BaseSubscriptionProducer[Any]):
    """Each NMEA sentence the receiver at ``url`` sends, as a pynmea2 sentence object (for
    which ``dataFilter(sentence)`` is true, if given). :attr:`latitude`, :attr:`longitude`
    and :attr:`altitude` hold the last position reported. Sentences with a wrong checksum,
    or cut short, are skipped and counted. Ready while the port is open; the port is
    reopened if it goes away (see :class:`~rtcbot.arduino.SerialConnection`)."""

    def __init__(
        self, url: str = "/dev/ttyACM0", baudrate: int = 115200, dataFilter: Callable[[Any], bool] | None = None
    ) -> None:
        self._nmea = importLibrary("pynmea2", "GPS")
        super().__init__(asyncio.Queue, logger=_log, ready=False)
        self._dataFilter = dataFilter
        self._latitude: float | None = None
        self._longitude: float | None = None
        self._altitude: float | None = None
        self._badSentences = 0
        self._serial = SerialConnection(url=url, baudrate=baudrate)
        self._serial.subscribe(self._onLine)
        self._serial.onReady(self._setReady)
        self._serial.onError(self._setError)
        self._serial.onClose(self._serialClosing)

    async def _serialClosing(self) -> None:
        await self._serial  # its port is shut
        self._notifyState()

    def _onLine(self, line: bytes) -> None:
        try:
            sentence = self._nmea.parse(line.decode("ascii").strip(), check=True)
        except (UnicodeDecodeError, self._nmea.ParseError) as error:
            self._badSentences += 1
            self._rateLimitedLog.log("bad", logging.DEBUG, "skipped a line that is not NMEA: %r (%s)", line, error)
            return
        self._remember(sentence)
        if self._dataFilter is None or self._dataFilter(sentence):
            self._put_nowait(sentence)

    def _remember(self, sentence: Any) -> None:
        """Keeps the position of a sentence that has one (not an empty field of a receiver
        without a fix)."""
        if getattr(sentence, "lat", "") and getattr(sentence, "lon", ""):
            self._latitude, self._longitude = float(sentence.latitude), float(sentence.longitude)
        if isinstance(getattr(sentence, "altitude", None), (int, float)):
            self._altitude = float(sentence.altitude)

    @property
    def latitude(self) -> float | None:
        """Degrees north (negative: south) of the last fix, or None before one."""
        return self._latitude

    @property
    def longitude(self) -> float | None:
        """Degrees east (negative: west) of the last fix, or None before one."""
        return self._longitude

    @property
    def altitude(self) -> float | None:
        """Metres above mean sea level of the last fix that gave one, or None."""
        return self._altitude

    def statistics(self) -> GPSStatistics:
        """A snapshot of the counters."""
        base = super().statistics()
        return GPSStatistics(base.published, base.subscribers, base.listenerErrors, self._badSentences)

    def close(self) -> None:
        """Closes the GPS and its serial port."""
        self._serial.close()
        super().close()

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and self._serial._isTornDown()
