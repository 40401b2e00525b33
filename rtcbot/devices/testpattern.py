"""The synthetic camera's picture: a moving pattern, the frame number and capture time in
seven-segment digits for people, and the frame number as a bar code for programs.

The bar code (32 cells, one bit each, most significant first) is drawn both along the top
and along the bottom edge, so a frame whose halves come from different frames (a torn
frame) decodes to two different numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STAMP_BITS = 32
MIN_WIDTH = 2 * STAMP_BITS
MIN_HEIGHT = 48

# Segments a..g of each digit, as (row, column, height, width) in a 3x5 grid of units.
_SEGMENTS = {
    "a": (0, 0, 1, 3),
    "b": (0, 2, 3, 1),
    "c": (2, 2, 3, 1),
    "d": (4, 0, 1, 3),
    "e": (2, 0, 3, 1),
    "f": (0, 0, 3, 1),
    "g": (2, 0, 1, 3),
}
_DIGITS = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"]


def checkSize(width: int, height: int) -> None:
    """Raises ValueError unless a test pattern fits in ``width`` x ``height``."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a test pattern needs at least {MIN_WIDTH}x{MIN_HEIGHT} pixels, got {width}x{height}")


def drawPattern(frame: np.ndarray[Any, Any], number: int, captureNs: int) -> None:
    """Draws frame ``number`` (captured at ``captureNs``) into a (height, width, 3) uint8 array."""
    height, width = frame.shape[:2]
    columns = np.arange(width, dtype=np.uint16)
    frame[:, :, 0] = ((columns + (4 * number) % 256) % 256).astype(np.uint8)  # moving blue gradient
    frame[:, :, 1] = 64
    frame[:, :, 2] = (np.arange(height, dtype=np.uint16) * 255 // max(height - 1, 1)).astype(np.uint8)[:, None]
    barWidth = max(width // 16, 1)
    barStart = (8 * number) % width
    frame[:, barStart : barStart + barWidth] = 255  # moving white bar
    unit = max(height // 60, 1)
    cell = width // STAMP_BITS
    top = cell
    _drawNumber(frame, str(number), top + unit, unit)
    _drawNumber(frame, f"{captureNs // 1_000_000 % 100_000_000}", top + 7 * unit, unit)
    _drawStamp(frame, number, 0, cell)
    _drawStamp(frame, number, height - cell, cell)


def _drawNumber(frame: np.ndarray[Any, Any], text: str, row: int, unit: int) -> None:
    frame[row - unit : row + 6 * unit, 0 : (4 * len(text) + 1) * unit] = 0
    for position, digit in enumerate(text):
        left = (1 + 4 * position) * unit
        for segment in _DIGITS[int(digit)]:
            r, c, h, w = _SEGMENTS[segment]
            frame[row + r * unit : row + (r + h) * unit, left + c * unit : left + (c + w) * unit] = 255


def _drawStamp(frame: np.ndarray[Any, Any], number: int, row: int, cell: int) -> None:
    for bit in range(STAMP_BITS):
        value = 255 if (number >> (STAMP_BITS - 1 - bit)) & 1 else 0
        frame[row : row + cell, bit * cell : (bit + 1) * cell] = value


def decodeStamp(frame: np.ndarray[Any, Any]) -> tuple[int, int]:
    """The frame numbers written along the top and the bottom edge (equal unless torn)."""
    height, width = frame.shape[:2]
    cell = width // STAMP_BITS
    centres = np.arange(STAMP_BITS) * cell + cell // 2
    weights = np.array([1 << (STAMP_BITS - 1 - bit) for bit in range(STAMP_BITS)], np.uint64)

    def read(row: int) -> int:
        bits = (frame[row, centres, 1] > 127).astype(np.uint64)
        return int((bits * weights).sum())

    return read(cell // 2), read(height - cell + cell // 2)
