"""Slots of a publication's own, for arrays that are not in shared memory yet.

Frames from a process producer are handed on as they lie; anything else (arrays made in
the program, views of frames) is copied here once, whatever the number of programs.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from ..base._loopbinding import LoopBinding, LoopGone
from ..shm.frame import Frame
from ..shm.protocol import HEADER, Kind, decodeRetire, decodeRing
from ..shm.ring import SlotReader, SlotWriter


class CopyRing:
    """Copies arrays into slots and returns them as Frames that can be handed on.

    A slot comes back when the last holder of its frame lets go (in any thread).
    """

    def __init__(self, label: str, slotCount: int, loop: LoopBinding) -> None:
        self._loop = loop
        self._writer = SlotWriter(slotCount, label, self._fromWriter)
        self._reader = SlotReader(self._released)
        self._sequence = 0

    def copy(self, array: np.ndarray[Any, Any]) -> Frame | None:
        """``array`` in a slot, or None when every slot is held (the writer counts it)."""
        claim = self._writer.claim(array.shape, array.dtype)
        if claim is None:
            return None
        np.copyto(claim.array, array, casting="no")
        now = time.monotonic_ns()
        if isinstance(array, Frame):
            header = self._writer.header(claim, array.sequence, array.timestamp, now, array.deviceTimestamp)
        else:
            header = self._writer.header(claim, self._sequence, now, now, None)
        self._sequence += 1
        return self._reader.frame(header, now)

    @property
    def dropped(self) -> int:
        """Arrays not copied because every slot was held."""
        return self._writer.droppedSlotsFull

    def _fromWriter(self, message: bytes, fd: int | None) -> None:
        kind, _ = HEADER.unpack_from(message)
        payload = message[HEADER.size :]
        if kind == Kind.NEW_RING:
            assert fd is not None
            self._reader.addRing(decodeRing(payload), os.dup(fd))
        elif kind == Kind.RETIRE_RING:
            self._reader.retire(decodeRetire(payload))

    def _released(self, generation: int, slot: int) -> None:
        try:  # noqa: SIM105  once per frame: a try costs nothing, suppress() 0.4 µs
            self._loop.call(self._writer.release, generation, slot)
        except LoopGone:
            pass

    def close(self) -> None:
        """Forgets the slots (frames still alive keep their memory until they die)."""
        self._reader.close()
        self._writer.close()
