"""What an attached program does with what a publisher announces, whichever way it waits
(an event loop or a blocking iterator): rings and items from the socket, frames from its
page, delivered in the order they were published."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

from ..shm.announcements import NOT_YET, AnnouncementReader
from ..shm.protocol import Kind, MessageReader, decodeRetire, decodeRing
from ..shm.ring import SlotReader

_ITEM_NUMBER = 8


def encodeItem(number: int, pickled: bytes | None) -> bytes:
    """The payload of an ITEM message to a program: the item's number, then the pickled
    item, or nothing for an item that was lost on the way (it still has its place)."""
    return number.to_bytes(_ITEM_NUMBER, "little") + (b"" if pickled is None else b"\x01" + pickled)


class Announcements:
    """The rings, frames and items a publisher announced to this program.

    Each frame and item goes to ``deliver``; when a frame dies (in any thread), its ticket
    is given back in the page.
    """

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self._deliver = deliver
        self._rings = SlotReader(self._giveBack)
        self._page: AnnouncementReader | None = None
        self._tickets: dict[tuple[int, int], int] = {}
        self._nextItem: int | None = None

    @property
    def inUse(self) -> int:
        """Frames of the publisher alive in this program."""
        return self._rings.inUse

    def handle(self, kind: Kind, payload: bytes, reader: MessageReader) -> bool:
        """Takes a socket message about rings, the page or an item; False for other kinds."""
        if kind is Kind.NEW_RING:
            self._rings.addRing(decodeRing(payload), reader.takeFd())
            self.deliverNew()  # a frame may have waited for its ring
        elif kind is Kind.RETIRE_RING:
            self._rings.retire(decodeRetire(payload))
        elif kind is Kind.ANNOUNCEMENTS:
            self._page = AnnouncementReader(reader.takeFd())
        elif kind is Kind.ITEM:
            self._item(payload)
        else:
            return False
        return True

    def deliverNew(self) -> None:
        """Delivers the frames announced since the last call, up to one that must wait
        (for an item published before it, or for its ring, both on the socket)."""
        page = self._page
        while page is not None and (entry := page.peek()) is not None:
            ticket, itemsBefore, header = entry
            if self._nextItem is None:
                self._nextItem = page.firstItem()
            if itemsBefore > self._nextItem:
                return
            if not self._rings.knows(header.generation):
                return
            page.advance()
            self._tickets[(header.generation, header.slot)] = ticket
            self._deliver(self._rings.frame(header, time.monotonic_ns()))

    def _item(self, payload: bytes) -> None:
        number = int.from_bytes(payload[:_ITEM_NUMBER], "little")
        item = payload[_ITEM_NUMBER + 1 :] if len(payload) > _ITEM_NUMBER else None
        first = NOT_YET if self._page is None else self._page.firstItem()
        if first != NOT_YET and number >= first:  # frames published before it come first
            if self._nextItem is None:
                self._nextItem = first
            self.deliverNew()
            self._nextItem = number + 1
        if item is not None:
            self._deliver(pickle.loads(item))
        self.deliverNew()

    def _giveBack(self, generation: int, slot: int) -> None:
        ticket = self._tickets.pop((generation, slot), None)
        if ticket is not None and self._page is not None:
            self._page.giveBack(ticket)

    def close(self) -> None:
        """Forgets the rings and the page (frames alive keep their memory until they die)."""
        self._rings.close()
        if self._page is not None:
            self._page.close()
