"""Two RTCConnections in one event loop, signalled to each other, and a check of decoded
test-pattern pictures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np

from rtcbot.devices.testpattern import decodeStamp, drawPattern
from rtcbot.webrtc import RTCConnection


async def signal(offerer: RTCConnection, answerer: RTCConnection) -> None:
    """The three signalling calls, as an application makes them."""
    offer = await offerer.getLocalDescription()
    answer = await answerer.getLocalDescription(offer)
    await offerer.setRemoteDescription(answer)


@asynccontextmanager
async def connectedPair(
    prepare: Callable[[RTCConnection, RTCConnection], None] = lambda c1, c2: None, **options: Any
) -> AsyncIterator[tuple[RTCConnection, RTCConnection]]:
    """Two connections (made with ``options``), ``prepare``d, signalled; closed and awaited
    at the end."""
    c1, c2 = RTCConnection(**options), RTCConnection(**options)
    try:
        prepare(c1, c2)
        await asyncio.sleep(0)  # the test's own set-up (a camera's fork, two peers) is one loop step
        await signal(c1, c2)
        yield c1, c2
    finally:
        await c1.close()
        await asyncio.sleep(0)
        await c2.close()


def patternError(picture: np.ndarray[Any, Any]) -> tuple[int | None, float]:
    """The frame number a decoded test pattern carries (None when its two bar codes differ:
    a torn or corrupted picture), and the mean absolute difference (in levels) between the
    picture and the pattern drawn for that number, over the part that depends on the number
    only (below the digits, above the bottom bar code)."""
    top, bottom = decodeStamp(picture)
    if top != bottom:
        return None, 255.0
    expected = np.empty_like(picture)
    drawPattern(expected, top, 0)
    height, width = picture.shape[:2]
    cell = width // 32
    unit = max(height // 60, 1)
    rows = slice(cell + 14 * unit, height - 2 * cell)
    difference = np.abs(picture[rows].astype(np.int16) - expected[rows].astype(np.int16))
    return top, float(difference.mean())
