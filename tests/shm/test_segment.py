"""Anonymous shared-memory segments (memfd) and their mappings."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from rtcbot.shm.segment import PAGE_SIZE, createSegment, mapSegment, pageAligned

from .fds import isOpen


def test_pageSizeIsTheSystemPageSize() -> None:
    assert PAGE_SIZE == mmap.PAGESIZE == os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize(
    "size, aligned",
    [
        (0, 0),
        (1, PAGE_SIZE),
        (PAGE_SIZE - 1, PAGE_SIZE),
        (PAGE_SIZE, PAGE_SIZE),
        (PAGE_SIZE + 1, 2 * PAGE_SIZE),
        (10 * PAGE_SIZE, 10 * PAGE_SIZE),
        (10 * PAGE_SIZE + 123, 11 * PAGE_SIZE),
        (640 * 480 * 3, -(-640 * 480 * 3 // PAGE_SIZE) * PAGE_SIZE),
    ],
)
def test_pageAligned(size: int, aligned: int) -> None:
    assert pageAligned(size) == aligned
    assert pageAligned(size) % PAGE_SIZE == 0
    assert 0 <= pageAligned(size) - size < PAGE_SIZE


def test_createSegmentIsALabelledMemfdOfTheRightSize() -> None:
    size = 3 * PAGE_SIZE
    fd, mapping = createSegment(size, "unit-test")
    try:
        assert os.fstat(fd).st_size == size
        assert len(mapping) == size
        target = os.readlink(f"/proc/self/fd/{fd}")
        assert target.startswith(f"/memfd:rtcbot-{os.getpid()}-unit-test")
        assert not os.get_inheritable(fd)  # MFD_CLOEXEC
        # no name in /dev/shm
        assert not any("unit-test" in name for name in os.listdir("/dev/shm"))
        # the mapping is writable and backed by the fd
        mapping[:5] = b"hello"
        assert os.pread(fd, 5, 0) == b"hello"
        assert mapping[5:PAGE_SIZE] == bytes(PAGE_SIZE - 5)  # zero-filled
    finally:
        mapping.close()
        os.close(fd)


def test_createSegmentFailureIsMemoryErrorAndClosesFd() -> None:
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(MemoryError, match="shared memory for frames"):
        createSegment(1 << 62, "too-big")  # no address space for that
    assert set(os.listdir("/proc/self/fd")) == before


def test_mapSegmentReadOnlyMakesArraysReadOnlyAndClosesFd() -> None:
    size = 2 * PAGE_SIZE
    fd, writable = createSegment(size, "ro-test")
    given = os.dup(fd)
    readOnly = mapSegment(given, size, writable=False)
    try:
        with pytest.raises(OSError):
            os.fstat(given)  # mapSegment closed the fd it was given
        assert len(readOnly) == size
        array = np.frombuffer(readOnly, np.uint8)
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array.flags.writeable = True
        with pytest.raises(ValueError):
            array[0] = 1
        with pytest.raises(TypeError):
            readOnly[0] = 1
        # both mappings are the same memory
        source = np.frombuffer(writable, np.uint8)
        source[:3] = [7, 8, 9]
        source[-1] = 42
        assert array[:3].tolist() == [7, 8, 9]
        assert array[-1] == 42
        del array, source
    finally:
        readOnly.close()
        writable.close()
        os.close(fd)


def test_mapSegmentWritable() -> None:
    size = PAGE_SIZE
    fd, first = createSegment(size, "rw-test")
    given = os.dup(fd)
    second = mapSegment(given, size, writable=True)
    try:
        assert not isOpen(given)
        array = np.frombuffer(second, np.int32)
        assert array.flags.writeable
        array[0] = 123456
        assert np.frombuffer(first, np.int32)[0] == 123456
        del array
    finally:
        second.close()
        first.close()
        os.close(fd)


def test_mapSegmentClosesFdEvenWhenMappingFails() -> None:
    fd, mapping = createSegment(PAGE_SIZE, "fail-test")
    given = os.dup(fd)
    try:
        with pytest.raises((OSError, ValueError)):
            mapSegment(given, 4 * PAGE_SIZE, writable=False)  # longer than the segment
    finally:
        mapping.close()
        os.close(fd)
    assert not isOpen(given)
