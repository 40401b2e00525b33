"""What an attached program does with a publisher's announcements, whichever way it waits
(an event loop or a blocking iterator)."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

from ..shm.protocol import Kind, MessageReader, decodeFrame, decodeRetire, decodeRing
from ..shm.ring import SlotReader
from ._announcements import AnnouncementReader


class Announcements:
    """The rings a publisher announced and the frames it announced in the program's page.

    Each new frame goes to ``deliver``; when it dies (in any thread), its ticket is given
    back in the page.
    """

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self._deliver = deliver
        self._nextOrder = 0
        self._rings = SlotReader(self._giveBack)
        self._page: AnnouncementReader | None = None
        self._tickets: dict[tuple[int, int], int] = {}

    @property
    def inUse(self) -> int:
        """Frames of the publisher alive in this program."""
        return self._rings.inUse

    def handle(self, kind: Kind, payload: bytes, reader: MessageReader) -> bool:
        """Takes a socket message about rings or the page; False for any other kind."""
        if kind is Kind.NEW_RING:
            self._rings.addRing(decodeRing(payload), reader.takeFd())
        elif kind is Kind.RETIRE_RING:
            self._rings.retire(decodeRetire(payload))
        elif kind is Kind.ANNOUNCEMENTS:
            self._page = AnnouncementReader(reader.takeFd())
        else:
            return False
        return True

    def deliverNew(self, drainSocket: Callable[[], None], before: int | None = None) -> None:
        """Delivers the frames announced since the last call, in order, up to the first
        one that must wait for an item still on the socket (or up to order ``before``).
        A ring is announced on the socket before its first frame: ``drainSocket`` reads it
        when it is not here yet."""
        page = self._page
        if page is None:
            return
        while (entry := page.peek()) is not None:
            ticket, order, payload = entry
            if order != self._nextOrder or (before is not None and order >= before):
                return
            page.advance()
            self._nextOrder += 1
            header = decodeFrame(payload)
            if not self._rings.knows(header.generation):
                drainSocket()
            self._tickets[(header.generation, header.slot)] = ticket
            self._deliver(self._rings.frame(header, time.monotonic_ns()))

    def deliverItem(self, payload: bytes, drainSocket: Callable[[], None]) -> None:
        """Delivers an ITEM message's item after the frames announced before it."""
        order = int.from_bytes(payload[:8], "little")
        self.deliverNew(drainSocket, before=order)
        self._nextOrder = order + 1
        self._deliver(pickle.loads(payload[8:]))
        self.deliverNew(drainSocket)

    def _giveBack(self, generation: int, slot: int) -> None:
        ticket = self._tickets.pop((generation, slot), None)
        if ticket is not None and self._page is not None:
            self._page.giveBack(ticket)

    def close(self) -> None:
        """Forgets the rings and the page (frames alive keep their memory until they die)."""
        self._rings.close()
        if self._page is not None:
            self._page.close()
