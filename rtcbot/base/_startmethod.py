"""Which start method a child gets when none is asked for."""

from __future__ import annotations

import multiprocessing
import threading


def defaultStartMethod() -> str | None:
    """multiprocessing's default (None), except when that is ``fork`` and this process runs
    other Python threads by now (a WebRTC encoder's, an executor's): a forked child gets a
    copy of every lock those threads held and can hang on one (Python 3.12 warns "use of
    fork() may lead to deadlocks"), so then ``forkserver``. Threads of C libraries that
    prepare for fork themselves (OpenBLAS's) do not count, as in Python's own warning."""
    if multiprocessing.get_context().get_start_method() != "fork" or threading.active_count() <= 1:
        return None
    return "forkserver"
