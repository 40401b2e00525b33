"""The speaker's buffer between the blocks it receives and the device's callback: any block
size in, exactly what the device asks for out, with a bound on the latency it may hold."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class SampleFifo:
    """A thread-safe circular buffer of float32 frames (samples x channels): a jitter buffer.

    ``read`` plays nothing (silence) until ``prime`` frames have arrived, then plays until
    the buffer runs dry, which counts one underrun and primes again. ``write`` never blocks:
    a write that would hold more than ``capacity`` frames discards the oldest, down to
    ``prime`` frames (counted in ``framesTrimmed``), so a source faster than real time, or a
    backlog after a stall, costs samples, never growing latency.
    """

    def __init__(self, capacity: int, channels: int, prime: int) -> None:
        if not 0 <= prime < capacity:
            raise ValueError(f"need 0 <= prime < capacity, got prime={prime}, capacity={capacity}")
        self._buffer = np.zeros((capacity, channels), np.float32)
        self._capacity = capacity
        self._prime = prime
        self._start = 0
        self._size = 0
        self._playing = False
        self._lock = threading.Lock()
        self.framesTrimmed = 0
        self.underruns = 0

    @property
    def size(self) -> int:
        """Frames waiting to be played."""
        return self._size

    def write(self, frames: np.ndarray[Any, Any]) -> None:
        """Appends (n, channels) float32 frames, trimming the oldest when over capacity."""
        with self._lock:
            total = self._size + len(frames)
            if total > self._capacity:
                keep = max(self._prime, min(len(frames), self._capacity))
                drop = total - keep
                dropOld = min(drop, self._size)
                frames = frames[drop - dropOld :]
                self._start = (self._start + dropOld) % self._capacity
                self._size -= dropOld
                self.framesTrimmed += drop
            count = len(frames)
            end = (self._start + self._size) % self._capacity
            first = min(count, self._capacity - end)
            self._buffer[end : end + first] = frames[:first]
            self._buffer[: count - first] = frames[first:]
            self._size += count

    def read(self, out: np.ndarray[Any, Any]) -> int:
        """Fills ``out`` (n, channels) with the oldest frames and silence after them;
        returns how many real frames it played."""
        wanted = len(out)
        with self._lock:
            if not self._playing and self._size >= max(self._prime, 1):
                self._playing = True
            count = min(wanted, self._size) if self._playing else 0
            first = min(count, self._capacity - self._start)
            out[:first] = self._buffer[self._start : self._start + first]
            out[first:count] = self._buffer[: count - first]
            self._start = (self._start + count) % self._capacity
            self._size -= count
            if self._playing and count < wanted:
                self._playing = False
                self.underruns += 1
        out[count:] = 0
        return count
