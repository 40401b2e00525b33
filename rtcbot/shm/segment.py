"""Anonymous shared-memory segments (Linux memfd), passed between processes as fds.

A segment has no name in ``/dev/shm``: it exists while some process holds its fd or a
mapping of it, so nothing can be leaked, whatever kills whom. Its memfd label
(``rtcbot-<owner pid>-<label>``, visible in ``/proc/<pid>/maps``) says who made it.
"""

from __future__ import annotations

import mmap
import os

PAGE_SIZE = mmap.PAGESIZE
_SHARED_PREFAULTED = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


def pageAligned(size: int) -> int:
    """``size`` rounded up to a whole number of pages."""
    return -(-size // PAGE_SIZE) * PAGE_SIZE


def createSegment(size: int, label: str, prefault: bool = False) -> tuple[int, mmap.mmap]:
    """Creates a segment of ``size`` bytes; returns its fd and a read-write mapping.

    ``prefault`` allocates every page now (slow for big segments: never in an event loop)
    rather than on the first frames through each slot. Raises ``MemoryError`` naming the
    size when the machine cannot provide it.
    """
    fd = os.memfd_create(f"rtcbot-{os.getpid()}-{label}", os.MFD_CLOEXEC)
    try:
        os.fchmod(fd, 0o600)  # reopening it through /proc needs the owner's rights
        os.ftruncate(fd, size)
        flags = _SHARED_PREFAULTED if prefault else mmap.MAP_SHARED
        return fd, mmap.mmap(fd, size, flags=flags)
    except OSError as exc:
        os.close(fd)
        raise MemoryError(
            f"cannot allocate {size / 1e6:.1f} MB of shared memory for frames ({exc}); use fewer or smaller slots"
        ) from exc


def mapSegment(fd: int, size: int, writable: bool, keepFd: bool = False) -> mmap.mmap:
    """Maps a segment received from another process, then closes ``fd`` (unless ``keepFd``).

    A read-only mapping makes every array over it read-only for good.
    """
    try:
        protection = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        return mmap.mmap(fd, size, prot=protection)
    finally:
        if not keepFd:
            os.close(fd)


def reopenReadOnly(fd: int) -> int:
    """A new fd of the segment behind ``fd`` that can neither write, resize nor map it
    writable: what another program is given, so that it cannot corrupt the frames."""
    return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
