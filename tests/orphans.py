"""For tests that kill a program of their own and watch its children: become the subreaper
of orphans (so they can be reaped, leaving nothing behind) and wait for a pid to exit."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
from collections.abc import Iterator
from contextlib import contextmanager

PR_SET_CHILD_SUBREAPER = 36


def exitsWithin(pid: int, seconds: float) -> bool:
    """True once ``pid`` has exited (a zombie counts), False if it is still running after ``seconds``."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(seconds * 1000))
    finally:
        os.close(pidfd)


@contextmanager
def adoptingOrphans(orphans: list[int]) -> Iterator[None]:
    """While active, orphaned descendants become our children; on exit, every pid in
    ``orphans`` is waited for (killed if it is still running after 5 s) and reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1) == 0
    try:
        yield
    finally:
        for pid in orphans:
            if not exitsWithin(pid, 5.0):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # never became ours (it was reaped by its own parent)
                os.waitpid(pid, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0)
