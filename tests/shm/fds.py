"""File-descriptor checks for the shared-memory tests."""

from __future__ import annotations

import os


def isOpen(fd: int) -> bool:
    """True while ``fd`` is an open descriptor of this process."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
