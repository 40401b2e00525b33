"""Frame announcements in shared memory, one page per attached program.

Sending every program a socket message per frame costs a system call and a wake-up of
the publisher per program and frame (and another for each release). Instead the writer
(the capture child of a process producer, else the publishing program) writes each
announcement into the program's page and then writes one eventfd that wakes every program
at once; a program gives a frame back by setting the frame's *ticket* flag in its page,
which the writer reads when it next looks. Programs watch the eventfd edge-triggered
through an epoll of their own, so nobody has to read (and so steal) it.

Items that are not arrays travel on the program's socket, numbered; each frame's entry
says how many items came before it, so that the program delivers frames and items in the
order they were published.

Page layout (little-endian): at 0 the number of entries written (uint64); at 8, 16, 24
the writer's counts of frames announced, frames skipped because the program held its
limit, and frames held now; at 32 the number of items published before the writer took
the page (uint64, ``NOT_YET`` until then); the ticket flags (one byte each) at 64; then
:data:`ENTRIES` entries of :data:`ENTRY_SIZE` bytes: the entry's number (uint64), ticket
(uint16), length (uint16), items published before the frame (uint64), a FRAME message's
payload, and a CRC-32 of all that. On weakly ordered CPUs (the ARM of a Raspberry Pi) a
program may see the new count before the whole entry; the number and the CRC make such an
entry wait for the next wake-up (which comes after the writer's stores), instead of being
read torn or stale.
"""

from __future__ import annotations

import os
import select
import struct
import zlib

from .protocol import FrameHeader, decodeFrame
from .segment import createSegment, mapSegment

ENTRIES = 16
ENTRY_SIZE = 256
TICKETS = 64
NOT_YET = (1 << 64) - 1
_WORD = struct.Struct("<Q")
_COUNTS = struct.Struct("<QQQQ")  # written, sent, skipped, held: one write after each entry
_ENTRY = struct.Struct("<QHHQ")  # number, ticket, length, items before
_CRC = struct.Struct("<I")
_WRITTEN, _SENT, _SKIPPED, _HELD, _FIRST_ITEM = 0, 8, 16, 24, 32
_FLAGS_AT = 64
_ENTRIES_AT = _FLAGS_AT + TICKETS
PAGE_SIZE = _ENTRIES_AT + ENTRIES * ENTRY_SIZE
#: Largest FRAME payload an entry holds (a frame of more dimensions cannot be published).
MAX_PAYLOAD = ENTRY_SIZE - _ENTRY.size - _CRC.size
#: Most frames a program may hold: an unread entry is a held frame, so none is overwritten
#: before it is read.
MAX_HELD = ENTRIES - 1
#: The publisher looks for given-back frames this long after the last frame, if none came.
REAP_AFTER = 0.05


class AnnouncementPage:
    """The writer's side of one program's page: made new (``fd`` None), or mapped from the
    fd of a page the publishing program made (in a capture child)."""

    def __init__(self, label: str, fd: int | None = None) -> None:
        if fd is None:
            self.fd, self._page = createSegment(PAGE_SIZE, label)
            _WORD.pack_into(self._page, _FIRST_ITEM, NOT_YET)
        else:
            self.fd, self._page = -1, mapSegment(fd, PAGE_SIZE, writable=True)
        self._written = 0
        self._freeTickets = list(range(TICKETS))
        self.held: dict[int, object] = {}  # ticket -> what the frame's holder keeps
        self.sent = self.skipped = 0

    def startItemsAt(self, number: int) -> None:
        """Takes the page when ``number`` items have been published."""
        _WORD.pack_into(self._page, _FIRST_ITEM, number)

    def announceFrame(self, payload: bytes, itemsBefore: int, hold: object, limit: int) -> bool:
        """Announces a frame published after ``itemsBefore`` items, unless the program holds
        ``limit`` frames (True if announced); ``hold`` is kept until the frame comes back."""
        if len(self.held) >= limit:
            self.skipped += 1
            _WORD.pack_into(self._page, _SKIPPED, self.skipped)
            return False
        page = self._page
        ticket = self._freeTickets.pop()
        page[_FLAGS_AT + ticket] = 0
        self.held[ticket] = hold
        at = _ENTRIES_AT + (self._written % ENTRIES) * ENTRY_SIZE
        entry = _ENTRY.pack(self._written, ticket, len(payload), itemsBefore) + payload
        page[at : at + len(entry) + _CRC.size] = entry + _CRC.pack(zlib.crc32(entry))
        self._written += 1
        self.sent += 1
        # last: the entry is complete before it counts
        _COUNTS.pack_into(page, _WRITTEN, self._written, self.sent, self.skipped, len(self.held))
        return True

    def reap(self) -> list[object]:
        """What was kept for each frame the program has given back since the last call."""
        page = self._page
        returned = [ticket for ticket in self.held if page[_FLAGS_AT + ticket]]
        if not returned:
            return []
        holds = [self.held.pop(ticket) for ticket in returned]
        self._freeTickets.extend(returned)
        _WORD.pack_into(page, _HELD, len(self.held))
        return holds

    def counts(self) -> tuple[int, int, int]:
        """The writer's counts as written in the page: (sent, skipped, held)."""
        page = self._page
        return tuple(_WORD.unpack_from(page, at)[0] for at in (_SENT, _SKIPPED, _HELD))

    def close(self) -> None:
        """Unmaps the page (and closes its fd, if this side made it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.held.clear()
        self._page.close()


class AnnouncementReader:
    """A program's side of its page: new entries, and giving frames back."""

    def __init__(self, fd: int) -> None:
        self._page = mapSegment(fd, PAGE_SIZE, writable=True)
        self._read = 0

    def firstItem(self) -> int:
        """Items published before the writer took the page (``NOT_YET`` before it did)."""
        (number,) = _WORD.unpack_from(self._page, _FIRST_ITEM)
        return int(number)

    def peek(self) -> tuple[int, int, FrameHeader] | None:
        """(ticket, items before it, the frame) of the oldest entry not read yet, or None."""
        page = self._page
        (written,) = _WORD.unpack_from(page, _WRITTEN)
        if self._read >= written:
            return None
        at = _ENTRIES_AT + (self._read % ENTRIES) * ENTRY_SIZE
        index, ticket, length, number = _ENTRY.unpack_from(page, at)
        end = at + _ENTRY.size + length
        if index != self._read or length > MAX_PAYLOAD or _CRC.unpack_from(page, end)[0] != zlib.crc32(page[at:end]):
            return None  # not all of it is visible here yet: the writer's wake-up follows
        return ticket, number, decodeFrame(page, at + _ENTRY.size)

    def advance(self) -> None:
        """Marks the entry :meth:`peek` gave as read."""
        self._read += 1

    def giveBack(self, ticket: int) -> None:
        """Lets the writer reuse the frame of ``ticket`` (any thread)."""
        if not self._page.closed:
            self._page[_FLAGS_AT + ticket] = 1

    def close(self) -> None:
        """Unmaps the page (frames given back later are ignored)."""
        self._page.close()


class EdgeWatch:
    """An eventfd seen edge-triggered: ``fileno()`` becomes readable after each write, and
    ``consume()`` clears that, without reading (and so taking) the eventfd's count."""

    def __init__(self, eventFd: int) -> None:
        self._eventFd = eventFd  # kept open: closing it would end the watch
        self._epoll = select.epoll()
        try:
            self._epoll.register(eventFd, select.EPOLLIN | select.EPOLLET)
        except BaseException:
            self.close()
            raise

    def fileno(self) -> int:
        """The fd to watch for readability (an event loop's ``add_reader``)."""
        return self._epoll.fileno()

    def consume(self) -> None:
        """Takes the pending wake-up, so that the fd is quiet until the next write."""
        self._epoll.poll(0)

    def close(self) -> None:
        """Stops watching and closes the eventfd."""
        self._epoll.close()
        os.close(self._eventFd)


def wake(eventFd: int) -> None:
    """Wakes every program watching ``eventFd``."""
    try:  # noqa: SIM105  once per frame: a try costs nothing, suppress() 0.4 µs
        os.eventfd_write(eventFd, 1)
    except BlockingIOError:
        pass  # the count is at its maximum: everyone is awake anyway
