"""GPS on the kernel's tty (a pty), fed real NMEA 0183 sentences by the stand-in device of
``serialboard.py`` (no GPS receiver exists here)."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from pathlib import Path

import pynmea2  # noqa: F401  imported here: GPS() imports it at its first use, in the test's loop
import pytest

from rtcbot import GPS

from .boards import plugged, send

pytestmark = [pytest.mark.loop_timeout(20), pytest.mark.timeout(40)]


def sentence(body: str) -> bytes:
    """``$body*checksum`` with its CRLF, as a receiver sends it."""
    checksum = functools.reduce(lambda total, char: total ^ ord(char), body, 0)
    return f"${body}*{checksum:02X}\r\n".encode()


GGA = sentence("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
RMC = sentence("GPRMC,123520,A,4807.040,N,01131.010,E,022.4,084.4,230394,003.1,W")
NO_FIX = sentence("GPGGA,123521,,,,,0,00,99.9,,M,,M,,")


async def test_sentences_arrive_parsed_and_the_position_is_kept(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM1"
    async with plugged(link, "--sketch", "relay") as receiver, GPS(str(link)) as gps:
        await asyncio.wait_for(gps.onReady(), 5)
        sentences = gps.subscribe()
        corrupted = GGA.replace(b"545.4", b"545.5")  # its checksum no longer matches
        await send(receiver, b"07.038,N,01131.0\r\n" + corrupted + GGA + b"\x00\xff\r\n" + RMC + NO_FIX)
        first, second, third = [await asyncio.wait_for(sentences.get(), 5) for _ in range(3)]
        assert (type(first).__name__, first.altitude) == ("GGA", 545.4)
        assert (type(second).__name__, second.spd_over_grnd) == ("RMC", 22.4)
        assert type(third).__name__ == "GGA" and third.gps_qual == 0
        assert gps.latitude == pytest.approx(48 + 7.040 / 60) and gps.longitude == pytest.approx(11 + 31.010 / 60)
        assert gps.altitude == 545.4  # the fix-less sentence changes none of them
        assert gps.statistics().badSentences == 3


async def test_a_data_filter_picks_sentences(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM1"
    async with plugged(link, "--sketch", "relay") as receiver:
        async with GPS(str(link), dataFilter=lambda s: s.sentence_type == "RMC") as gps:
            await asyncio.wait_for(gps.onReady(), 5)
            sentences = gps.subscribe()
            await send(receiver, GGA + RMC)
            assert (await asyncio.wait_for(sentences.get(), 5)).sentence_type == "RMC"
            assert gps.latitude is not None  # the filtered-out GGA still gave the position


def test_without_pynmea2_it_says_which_extra_to_install() -> None:
    program = "import sys; sys.modules['pynmea2'] = None\nfrom rtcbot import GPS\nGPS('/dev/null')"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "MissingLibrary" in result.stderr and "rtcbot[gps]" in result.stderr, (
        result.stderr
    )
