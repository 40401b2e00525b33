"""A one-line progress bar on stderr (a line per run when stderr is not a terminal)."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class Progress:
    """Shows which run of how many is going, and how far it is."""

    def __init__(self, runs: int, stream: TextIO = sys.stderr) -> None:
        self._runs = runs
        self._stream = stream
        self._live = stream.isatty()
        self._index = 0
        self._label = ""

    def start(self, label: str) -> None:
        """A new run begins."""
        self._index += 1
        self._label = label
        if not self._live:
            print(f"run {self._index}/{self._runs}: {label}", file=self._stream, flush=True)
        self.tick(0.0)

    def tick(self, fraction: float) -> None:
        """Redraws the bar: ``fraction`` of the current run is done."""
        if not self._live:
            return
        done = (self._index - 1 + min(max(fraction, 0.0), 1.0)) / self._runs
        filled = int(done * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self._stream.write(f"\r[{bar}] {done * 100:3.0f}%  run {self._index}/{self._runs}: {self._label:<40}")
        self._stream.flush()

    def finish(self) -> None:
        """Clears the bar (before the results are printed)."""
        if self._live:
            self._stream.write("\r" + " " * (WIDTH + 60) + "\r")
            self._stream.flush()
