"""The writing side of the announcement pages of every program attached to one producer.

It runs where the frames are written: in the capture child of a process producer (so
that a frame reaches the programs without passing through the publishing program), else
in the publishing program.
"""

from __future__ import annotations

from .announcements import AnnouncementPage, wake


class Announcer:
    """Announces frames to the attached programs and collects what they give back.

    Each frame is announced with a *hold*: whatever keeps its slot reserved (a Frame, or a
    slot's address); the holds of frames given back come out of :meth:`reap`.
    """

    def __init__(self) -> None:
        self._programs: dict[int, tuple[AnnouncementPage, int, int]] = {}  # id -> page, limit, eventfd
        self.items = 0
        """Items (not arrays) published so far: the next item's number."""

    def __bool__(self) -> bool:
        return bool(self._programs)

    def add(self, program: int, page: AnnouncementPage, eventFd: int, limit: int) -> None:
        """Starts announcing to ``program`` through ``page``, waking it with ``eventFd``."""
        page.startItemsAt(self.items)
        self._programs[program] = (page, limit, eventFd)

    def remove(self, program: int) -> tuple[list[object], int | None]:
        """Stops announcing to ``program``: the holds of the frames it had, and its eventfd."""
        entry = self._programs.pop(program, None)
        if entry is None:
            return [], None
        page, _, eventFd = entry
        holds = list(page.held.values())
        page.close()
        return holds, eventFd

    def announce(self, payload: bytes, hold: object) -> int:
        """Announces a frame (a FRAME payload) to every program that does not hold its
        limit of frames, then wakes them; returns to how many."""
        announced = 0
        eventFds = set()
        for page, limit, eventFd in self._programs.values():
            if page.announceFrame(payload, self.items, hold, limit):
                announced += 1
                eventFds.add(eventFd)
        for eventFd in eventFds:
            wake(eventFd)
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

    def close(self) -> list[int]:
        """Stops announcing to every program; returns their eventfds (for the caller to close)."""
        eventFds = []
        for program in list(self._programs):
            _, eventFd = self.remove(program)
            if eventFd is not None:
                eventFds.append(eventFd)
        return eventFds
