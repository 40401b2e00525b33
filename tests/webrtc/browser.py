"""Chromium pages for tests (bench.chromium: Debian's package, driven by Playwright,
nothing of it left running afterwards) and what their ``<video>`` shows."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import cv2  # imported here: an import in a worker thread holds the GIL, and the loop, for long
import numpy as np

from bench import chromium

from ..rigfixtures import _unavailable

_READ_PICTURE = """(selector) => {
  const video = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/jpeg", 0.95);  // small: Playwright parses it in our event loop
}"""


@asynccontextmanager
async def chromiumPage(extraFlags: Sequence[str] = (), namespace: str | None = None) -> AsyncIterator[Any]:
    """:func:`bench.chromium.chromiumPage`; a missing browser is a missing rig."""
    try:
        async with chromium.chromiumPage(extraFlags, namespace) as page:
            yield page
    except chromium.BrowserUnavailable as error:
        _unavailable(str(error))


def _decodeDataUrl(dataUrl: str) -> np.ndarray:
    encoded = np.frombuffer(base64.b64decode(dataUrl.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


async def videoPicture(page: Any, selector: str = "video") -> np.ndarray:
    """What the page's ``<video>`` shows now, as a BGR array."""
    dataUrl = await page.evaluate(_READ_PICTURE, selector)
    return await asyncio.to_thread(_decodeDataUrl, dataUrl)
