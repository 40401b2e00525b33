"""Announcement pages: a writer's AnnouncementPage and a program's AnnouncementReader on
one memfd, in one process (the streams tests run them across real processes)."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from rtcbot.shm.announcements import ENTRIES, ENTRY_SIZE, MAX_PAYLOAD, PAGE_SIZE, AnnouncementPage, AnnouncementReader
from rtcbot.shm.protocol import HEADER, FrameHeader, encodeFrame

#: Where the page keeps its count of entries written, and where its entries begin.
_WRITTEN_AT = 0
_ENTRIES_AT = PAGE_SIZE - ENTRIES * ENTRY_SIZE


def framePayload(sequence: int, slot: int = 0) -> bytes:
    header = FrameHeader(0, slot, sequence, 1000 + sequence, 2000, 3000, 0, None, np.dtype("uint8"), (480, 640, 3))
    return encodeFrame(header)[HEADER.size :]


@contextmanager
def pageAndReader() -> Iterator[tuple[AnnouncementPage, AnnouncementReader, mmap.mmap]]:
    """A writer's page, a program's reader of it, and a third mapping to tamper with."""
    page = AnnouncementPage("test-announcements")
    reader = AnnouncementReader(os.dup(page.fd))
    raw = mmap.mmap(page.fd, PAGE_SIZE)
    try:
        yield page, reader, raw
    finally:
        raw.close()
        reader.close()
        page.close()


def test_frames_are_read_in_order_and_come_back_by_their_tickets() -> None:
    with pageAndReader() as (page, reader, _):
        for sequence in range(3):
            payload = framePayload(sequence, slot=sequence)
            assert page.announceFrame(payload, itemsBefore=sequence, hold=f"slot {sequence}", limit=5)
        tickets = []
        for sequence in range(3):
            entry = reader.peek()
            assert entry is not None
            ticket, itemsBefore, header = entry
            assert (itemsBefore, header.sequence, header.slot) == (sequence, sequence, sequence)
            assert header.timestamp == 1000 + sequence
            assert header.shape == (480, 640, 3) and header.dtype == np.uint8
            reader.advance()
            tickets.append(ticket)
        assert reader.peek() is None
        assert page.reap() == []
        reader.giveBack(tickets[1])
        assert page.reap() == ["slot 1"]
        assert page.counts() == (3, 0, 2)


def test_a_program_holding_its_limit_is_skipped_and_counted() -> None:
    with pageAndReader() as (page, reader, _):
        assert page.announceFrame(framePayload(0), 0, "a", limit=2)
        assert page.announceFrame(framePayload(1), 0, "b", limit=2)
        assert not page.announceFrame(framePayload(2), 0, "c", limit=2)
        assert page.counts() == (2, 1, 2)
        entry = reader.peek()
        assert entry is not None
        reader.advance()
        reader.giveBack(entry[0])
        assert page.reap() == ["a"]
        assert page.announceFrame(framePayload(3), 0, "d", limit=2)


def test_entries_wrap_around_the_page_while_frames_come_back() -> None:
    with pageAndReader() as (page, reader, _):
        for sequence in range(5 * ENTRIES):
            assert page.announceFrame(framePayload(sequence), 0, sequence, limit=2)
            entry = reader.peek()
            assert entry is not None and entry[2].sequence == sequence
            reader.advance()
            reader.giveBack(entry[0])
            assert page.reap() == [sequence]


def test_an_entry_counted_before_all_its_bytes_are_visible_waits() -> None:
    """What a weakly ordered CPU may show a program: the new count before the whole entry.
    The entry is not read torn (nor the stale one in its place); it is read once complete."""
    with pageAndReader() as (page, reader, raw):
        assert page.announceFrame(framePayload(7), 0, "first", limit=5)
        at = _ENTRIES_AT
        complete = raw[at : at + ENTRY_SIZE]
        torn = bytearray(complete)
        torn[40] ^= 0xFF  # one byte of the payload still the old one
        raw[at : at + ENTRY_SIZE] = bytes(torn)
        assert reader.peek() is None
        raw[at : at + ENTRY_SIZE] = complete
        entry = reader.peek()
        assert entry is not None and entry[2].sequence == 7
        reader.advance()
        for sequence in range(8, 8 + ENTRIES - 1):  # fill the page, so that the next entry reuses the first's place
            assert page.announceFrame(framePayload(sequence), 0, sequence, limit=ENTRIES)
            assert reader.peek() is not None
            reader.advance()
        raw[_WRITTEN_AT : _WRITTEN_AT + 8] = (ENTRIES + 1).to_bytes(8, "little")  # counted, entry not there
        assert reader.peek() is None  # the place still holds frame 7's complete, valid entry
    assert len(framePayload(0)) <= MAX_PAYLOAD
