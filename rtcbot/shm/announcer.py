"""The writing side of the announcement pages of every program attached to one producer.

It runs where the frames are written: in the capture child of a process producer (so
that a frame reaches the programs without passing through the publishing program), else
in the publishing program.
"""

from __future__ import annotations

import os

from .announcements import MAX_PAYLOAD, AnnouncementPage, wake


class Announcer:
    """Announces frames to the attached programs and collects what they give back.

    Each frame is announced with a *hold*: whatever keeps its slot reserved (a Frame, or a
    slot's address); the holds of frames given back come out of :meth:`reap`. Programs
    woken by one eventfd (however many fds of it were passed) are woken with one write.
    With ``ownsEventFds`` the eventfds given to :meth:`add` are closed when unused.
    """

    def __init__(self, ownsEventFds: bool) -> None:
        self._ownsEventFds = ownsEventFds
        self._programs: dict[int, tuple[AnnouncementPage, int, int]] = {}  # id -> page, limit, eventfd inode
        self._wakers: dict[int, list[int]] = {}  # eventfd inode -> [fd, programs using it]
        self.items = 0
        """Items (not arrays) published so far: the next item's number."""

    def __bool__(self) -> bool:
        return bool(self._programs)

    def add(self, program: int, page: AnnouncementPage, eventFd: int, limit: int) -> None:
        """Starts announcing to ``program`` through ``page``, waking it with ``eventFd``."""
        inode = os.fstat(eventFd).st_ino
        waker = self._wakers.get(inode)
        if waker is None:
            self._wakers[inode] = [eventFd, 1]
        else:
            waker[1] += 1
            if self._ownsEventFds and eventFd != waker[0]:
                os.close(eventFd)  # another fd of an eventfd already here
        page.startItemsAt(self.items)
        self._programs[program] = (page, limit, inode)

    def remove(self, program: int) -> list[object]:
        """Stops announcing to ``program``; returns the holds of the frames it had."""
        entry = self._programs.pop(program, None)
        if entry is None:
            return []
        page, _, inode = entry
        holds = list(page.held.values())
        page.close()
        waker = self._wakers[inode]
        waker[1] -= 1
        if not waker[1]:
            del self._wakers[inode]
            if self._ownsEventFds:
                os.close(waker[0])
        return holds

    def announce(self, payload: bytes, hold: object) -> int:
        """Announces a frame (a FRAME payload) to every program that does not hold its
        limit of frames, then wakes them; returns to how many (none for a frame of too many
        dimensions for an entry)."""
        if len(payload) > MAX_PAYLOAD:
            return 0
        announced = 0
        woken = set()
        for page, limit, inode in self._programs.values():
            if page.announceFrame(payload, self.items, hold, limit):
                announced += 1
                woken.add(inode)
        for inode in woken:
            wake(self._wakers[inode][0])
        return announced

    def reap(self) -> list[object]:
        """The holds of every frame given back since the last call."""
        holds: list[object] = []
        for page, _, _ in self._programs.values():
            holds.extend(page.reap())
        return holds

    def holdsAny(self) -> bool:
        """True while some program holds a frame."""
        return any(page.held for page, _, _ in self._programs.values())

    def close(self) -> None:
        """Stops announcing to every program."""
        for program in list(self._programs):
            self.remove(program)
