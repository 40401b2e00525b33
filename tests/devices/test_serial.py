"""SerialConnection on the kernel's own tty (pty pairs), with a stand-in board process on the
other end (``serialboard.py``: no Arduino exists here): RTCBot's line, raw and struct
messages both ways, start bytes, a board unplugged and plugged in again, bad input."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from rtcbot import SerialConnection
from rtcbot._serialframing import MAX_LINE_BYTES, SerialDecoder

from .boards import plugged, unplug

pytestmark = [pytest.mark.loop_timeout(20), pytest.mark.timeout(40)]

START = bytes([192, 105])  # what RTCBot's basic.ino sends from setup()


async def test_lines_both_ways_after_the_start_bytes_with_the_boot_noise_skipped(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    async with plugged(link, "--start", START.hex(), "--noise", "300"):
        conn = SerialConnection(str(link), startByte=START)
        readies: list[None] = []
        conn.onReady(lambda: readies.append(None))
        conn.put_nowait("Hi")
        assert await asyncio.wait_for(conn.get(), 5) == b"I received: 72\r"
        assert await asyncio.wait_for(conn.get(), 5) == b"I received: 105\r"
        assert conn.ready and conn.isConnected() and readies == [None]
        statistics = conn.statistics()
        assert statistics.skippedBytes == 300 and statistics.partialMessages == 0 and statistics.connected
        conn.close()
        await asyncio.wait_for(conn, 5)
        assert not conn.statistics().connected


async def test_structs_as_dicts_both_ways_as_in_the_full_example_of_rtcbots_docs(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    async with (
        plugged(link, "--sketch", "structs"),
        SerialConnection(
            url=str(link),
            writeFormat="<HB",
            writeKeys=["value1", "value2"],
            readFormat="<BH",
            readKeys=["value1", "value2"],
        ) as conn,
    ):
        for value in (1003, 0, 65535):
            conn.put_nowait({"value1": value, "value2": 2})
            assert await asyncio.wait_for(conn.get(), 5) == {"value1": 2, "value2": value}


async def test_tuples_without_keys_and_one_struct_split_over_two_reads(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    async with plugged(link, "--sketch", "structs"):
        async with SerialConnection(str(link), writeFormat="<HB", readFormat="<BH") as conn:
            conn.put_nowait((513, 7))
            conn.put_nowait([4, 9])
            assert await asyncio.wait_for(conn.get(), 5) == (7, 513)
            assert await asyncio.wait_for(conn.get(), 5) == (9, 4)
    decoder = SerialDecoder("<BH", None, None)
    assert decoder.feed(b"\x07\x01") == [] and decoder.feed(b"\x02\x09") == [(7, 513)]


async def test_raw_mode_gives_the_bytes_as_they_come(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    async with plugged(link), SerialConnection(str(link), readFormat=None) as conn:
        conn.put_nowait(b"A")
        received = b""
        while received.count(b"\n") < 1:
            chunk = await asyncio.wait_for(conn.get(), 5)
            assert isinstance(chunk, bytes) and chunk
            received += chunk
        assert received == b"I received: 65\r\n"


async def test_every_line_of_a_fast_board_arrives_in_order(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    count = 5000
    async with plugged(link, "--sketch", "talk", "--lines", str(count)), SerialConnection(str(link)) as conn:
        lines = []
        for number in range(count):
            lines.append(await asyncio.wait_for(conn.get(), 5))
            if number % 20 == 0:
                await asyncio.sleep(0)  # a get() of a waiting line does not yield: this test would hold the loop
    assert lines == [b"line %d" % number for number in range(count)]


class _Said(logging.Handler):
    """Sets an event when a log record holds ``words``."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words, self.said, self.messages = words, asyncio.Event(), list[str]()
        self._loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if self.words in record.getMessage():
            self._loop.call_soon_threadsafe(self.said.set)


async def test_an_unplugged_board_is_reported_and_reopened_when_it_comes_back(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    lost = _Said("lost")
    logging.getLogger("rtcbot").addHandler(lost)
    async with plugged(link, "--start", START.hex()) as board:
        conn = SerialConnection(str(link), startByte=START)
        await asyncio.wait_for(conn.onReady(), 5)
        conn.put_nowait("a")
        assert await asyncio.wait_for(conn.get(), 5) == b"I received: 97\r"
        try:
            await unplug(board)
            await asyncio.wait_for(lost.said.wait(), 5)
        finally:
            logging.getLogger("rtcbot").removeHandler(lost)
        assert any(str(link) in message and "lost" in message for message in lost.messages), lost.messages
        assert not conn.ready and not conn.isConnected() and not conn.statistics().connected
        conn.put_nowait("b")  # waits for the board to come back
        async with plugged(link, "--start", START.hex(), "--noise", "10"):
            await asyncio.wait_for(conn.onReady(), 5)
            assert await asyncio.wait_for(conn.get(), 5) == b"I received: 98\r"
            statistics = conn.statistics()
            assert statistics.reconnections == 1 and statistics.connected and statistics.skippedBytes == 10
            conn.close()
            await asyncio.wait_for(conn, 5)


async def test_a_struct_cut_by_the_unplug_is_dropped_and_counted_never_delivered(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    decoder = SerialDecoder("<BH", ["a", "b"], START)
    assert decoder.feed(b"junk" + START + struct.pack("<BH", 1, 2) + b"\x05") == [{"a": 1, "b": 2}]
    decoder.restart()  # the port was lost with one byte of the next struct read
    assert decoder.partialMessages == 1 and decoder.skippedBytes == 4
    assert decoder.feed(b"\x05\x06" + START + struct.pack("<BH", 3, 4)) == [{"a": 3, "b": 4}]
    assert decoder.skippedBytes == 6
    lines = SerialDecoder("\n", None, None)
    assert lines.feed(b"x" * (MAX_LINE_BYTES + 1)) == [] and lines.partialMessages == 1
    assert lines.feed(b"tail\nok\n") == [b"tail", b"ok"]
    async with plugged(link, "--sketch", "talk", "--lines", "1"), SerialConnection(str(link)) as conn:
        assert await asyncio.wait_for(conn.get(), 5) == b"line 0"


async def test_made_before_the_loop_runs_as_rtcbots_programs_do(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    program = tmp_path / "program.py"
    program.write_text(
        "import asyncio, sys\n"
        "from rtcbot import SerialConnection\n"
        f"conn = SerialConnection({str(link)!r}, startByte=bytes([192, 105]))\n"
        "conn.onReady(lambda: print('READY', flush=True))\n"
        "conn.put_nowait('z')\n"
        "async def main():\n"
        "    print((await conn.get()).decode(), flush=True)\n"
        "    conn.close(); await conn\n"
        "asyncio.run(main())\n"
    )
    async with plugged(link, "--start", START.hex()):
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-W", "error", str(program)], capture_output=True, text=True, timeout=20
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["READY", "I received: 122"], result.stdout


async def test_bad_input_gets_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SerialConnection(str(tmp_path / "ttyACM9"))
    with pytest.raises(OSError, match="not a serial port"):
        SerialConnection("/dev/null")
    with pytest.raises(ValueError, match="not a standard serial speed"):
        SerialConnection("/dev/null", baudrate=123)
    with pytest.raises(ValueError, match="packs 2 values"):
        SerialConnection("/dev/null", readFormat="<BH", readKeys=["a"])
    with pytest.raises(ValueError, match="not a struct format"):
        SerialConnection("/dev/null", writeFormat="<Q!")
    with pytest.raises(ValueError, match="needs a struct"):
        SerialConnection("/dev/null", readKeys=["a"])
    link = tmp_path / "ttyACM0"
    async with (
        plugged(link, "--sketch", "structs"),
        SerialConnection(str(link), writeFormat="<HB", writeKeys=["value1", "value2"], readFormat="<BH") as conn,
    ):
        with pytest.raises(TypeError, match="value2"):
            conn.put_nowait({"value1": 1})
        with pytest.raises(ValueError, match="does not fit"):
            conn.put_nowait({"value1": -1, "value2": 2})
        with pytest.raises(TypeError, match="needs a dict"):
            conn.put_nowait("text")
        conn.put_nowait({"value1": 300, "value2": 4})
        assert await asyncio.wait_for(conn.get(), 5) == (4, 300)
        assert conn.statistics().received == 1


async def test_items_of_a_subscription_that_do_not_fit_are_skipped_and_counted(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    source: asyncio.Queue[object] = asyncio.Queue()
    for item in ({"value1": 1}, {"value1": 5, "value2": 6}):
        source.put_nowait(item)
    async with (
        plugged(link, "--sketch", "structs"),
        SerialConnection(str(link), writeFormat="<HB", writeKeys=["value1", "value2"], readFormat="<BH") as conn,
    ):
        conn.putSubscription(source)
        assert await asyncio.wait_for(conn.get(), 5) == (6, 5)
        assert conn.statistics().unsendable == 1


def test_importing_rtcbot_arduino_loads_no_serial_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, rtcbot.arduino; print('serial' in sys.modules, 'termios' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert result.stdout.split() == ["False", "True"]
