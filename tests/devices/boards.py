"""Plugging the stand-in device of ``serialboard.py`` in and out, from async tests."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

BOARD = Path(__file__).with_name("serialboard.py")


@asynccontextmanager
async def plugged(link: Path, *arguments: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A stand-in device at ``link`` for the duration of the block (its stdin feeds the
    ``relay`` sketch); unplugged afterwards."""
    board = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, str(BOARD), "--link", str(link), *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert board.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(board.stdout.readline), 10)
        assert line.split() == [b"plugged", str(link).encode()], line
        yield board
    finally:
        await unplug(board)


async def send(board: subprocess.Popen[bytes], data: bytes) -> None:
    """Makes the stand-in device (``relay`` sketch) send ``data``."""
    assert board.stdin is not None
    board.stdin.write(data)
    board.stdin.flush()


async def unplug(board: subprocess.Popen[bytes]) -> None:
    """Unplugs the stand-in device and waits until it has gone."""
    if board.poll() is None:
        board.terminate()
    await asyncio.to_thread(board.wait, 10)
    for pipe in (board.stdin, board.stdout):
        if pipe is not None:
            with suppress(BrokenPipeError):
                pipe.close()
