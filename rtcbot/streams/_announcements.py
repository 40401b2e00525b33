"""Frame announcements in shared memory, one page per attached program.

Sending every program a socket message per frame costs a system call and a wake-up of
the publisher per program and frame (and another for each release). Instead the
publisher writes each announcement into the program's page and then writes one eventfd
that wakes every program at once; a program gives a frame back by setting the frame's
*ticket* flag in its page, which the publisher reads when it next looks (on the next
frame, or after :data:`REAP_AFTER` seconds without one). Programs watch the eventfd
edge-triggered through an epoll of their own, so nobody has to read (and so steal) it.

Page layout: the number of announcements written so far (uint64) at 0, the ticket flags
(one byte each) at 64, then :data:`ENTRIES` entries of :data:`ENTRY_SIZE` bytes: ticket
(uint16), length (uint16), order (uint64: the place among everything sent to the program,
items on the socket included, so that both are delivered in the order they were sent)
and a FRAME message's payload.
"""

from __future__ import annotations

import os
import select
import struct

from ..shm.segment import createSegment, mapSegment

ENTRIES = 16
ENTRY_SIZE = 256
TICKETS = 64
_COUNT = struct.Struct("<Q")
_ENTRY = struct.Struct("<HHQ")
_FLAGS_AT = 64
_ENTRIES_AT = _FLAGS_AT + TICKETS
PAGE_SIZE = _ENTRIES_AT + ENTRIES * ENTRY_SIZE
#: Largest FRAME payload an entry holds (a frame of more dimensions cannot be published).
MAX_PAYLOAD = ENTRY_SIZE - _ENTRY.size
#: Most frames a program may hold (an unread announcement is held, so none is overwritten).
MAX_HELD = ENTRIES - 1
#: The publisher looks for given-back frames this long after the last frame, if none came.
REAP_AFTER = 0.05


class AnnouncementPage:
    """The publisher's side of one program's page."""

    def __init__(self, label: str) -> None:
        self.fd, self._page = createSegment(PAGE_SIZE, label)
        self._written = 0
        self._freeTickets = list(range(TICKETS))

    def announce(self, payload: bytes, order: int) -> int:
        """Writes an announcement; returns its ticket (flag cleared: not given back yet).

        The caller never has more than ``ENTRIES - 1`` announcements unread or tickets out.
        """
        ticket = self._freeTickets.pop()
        page = self._page
        page[_FLAGS_AT + ticket] = 0
        at = _ENTRIES_AT + (self._written % ENTRIES) * ENTRY_SIZE
        _ENTRY.pack_into(page, at, ticket, len(payload), order)
        page[at + _ENTRY.size : at + _ENTRY.size + len(payload)] = payload
        self._written += 1
        _COUNT.pack_into(page, 0, self._written)  # last: the entry is complete before it counts
        return ticket

    def givenBack(self, ticket: int) -> bool:
        """True once the program has let go of the frame of ``ticket`` (the ticket is free again)."""
        if self._page[_FLAGS_AT + ticket]:
            self._freeTickets.append(ticket)
            return True
        return False

    def close(self) -> None:
        os.close(self.fd)
        self._page.close()


class AnnouncementReader:
    """A program's side of its page: new announcements, and giving frames back."""

    def __init__(self, fd: int) -> None:
        self._page = mapSegment(fd, PAGE_SIZE, writable=True)
        self._read = 0

    def peek(self) -> tuple[int, int, bytes] | None:
        """(ticket, order, FRAME payload) of the oldest announcement not read yet, or None."""
        page = self._page
        (written,) = _COUNT.unpack_from(page, 0)
        if self._read >= written:
            return None
        at = _ENTRIES_AT + (self._read % ENTRIES) * ENTRY_SIZE
        ticket, length, order = _ENTRY.unpack_from(page, at)
        return ticket, order, page[at + _ENTRY.size : at + _ENTRY.size + length]

    def advance(self) -> None:
        """Marks the announcement :meth:`peek` gave as read."""
        self._read += 1

    def giveBack(self, ticket: int) -> None:
        """Lets the publisher reuse the frame of ``ticket`` (any thread)."""
        if not self._page.closed:
            self._page[_FLAGS_AT + ticket] = 1

    def close(self) -> None:
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
        return self._epoll.fileno()

    def consume(self) -> None:
        self._epoll.poll(0)

    def close(self) -> None:
        self._epoll.close()
        os.close(self._eventFd)
