"""Where an array's pixels live: in one of rtcbot's shared-memory (memfd) rings or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def memfdRegions() -> list[tuple[int, int]]:
    """Address ranges of this process's mappings of rtcbot's memfd segments."""
    regions = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "memfd:rtcbot-" in line:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            regions.append((start, end))
    return regions


def inSharedMemory(array: np.ndarray, regions: list[tuple[int, int]]) -> bool:
    return any(start <= array.ctypes.data < end for start, end in regions)
