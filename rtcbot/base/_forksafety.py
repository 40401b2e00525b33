"""What a forked child needs from its multi-threaded parent.

A forked child has only the thread that forked. CPython, inside ``fork()``, throws away the
other threads' states, and with them their ``threading.local`` values. PyAV (from 17) keeps
one swscale context per thread in such a local, and aiortc converts frames in its own
threads; freeing a context whose slice threads were never copied waits for them forever,
so the child hung before running a line of Python. :func:`keepLibraryStateAcrossFork`
keeps those contexts alive in the child (its copy is never used nor freed there).

Anything else another thread holds at fork time (a lock, a half-written buffer) is copied as
it is, as Python's own warning says; :func:`warnOnceIfForkingWithThreads` says so once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

_log = logging.getLogger("rtcbot")
_warned = False

#: Per-thread swscale contexts of PyAV, kept by this process: an entry goes when its thread
#: ends here, never in a forked child.
_keptScalers: dict[int, Any] = {}


class _ScalerKeeper:
    """One thread's scaler, registered while the thread lives in the process that made it."""

    def __init__(self, scaler: Any) -> None:
        self.scaler = scaler
        self._pid = os.getpid()
        _keptScalers[id(self)] = scaler

    def __del__(self) -> None:
        if os.getpid() == self._pid:  # the thread ended here; in a forked child, keep it
            _keptScalers.pop(id(self), None)


class _ForkSafeScalers(threading.local):
    """Stands in for PyAV's per-thread store of its ``VideoReformatter``."""

    @property
    def reformatter(self) -> Any:
        keeper: _ScalerKeeper | None = self.__dict__.get("_keeper")
        if keeper is None:
            raise AttributeError("reformatter")
        return keeper.scaler

    @reformatter.setter
    def reformatter(self, scaler: Any) -> None:
        self.__dict__["_keeper"] = _ScalerKeeper(scaler)


def keepLibraryStateAcrossFork() -> None:
    """Makes PyAV's per-thread scalers (if PyAV is loaded and keeps them) survive a fork.
    Idempotent; PyAV is never imported here. Scalers made before the first call in threads
    other than this one are not covered: rtcbot calls it when its WebRTC part is imported
    and before each fork."""
    frame = sys.modules.get("av.video.frame")
    store = getattr(frame, "_thread_local", None)
    if store is None or isinstance(store, _ForkSafeScalers):
        return
    replacement = _ForkSafeScalers()
    existing = getattr(store, "reformatter", None)  # this thread's, if any
    if existing is not None:
        replacement.reformatter = existing
    setattr(frame, "_thread_local", replacement)  # noqa: B010  mypy does not know this private attribute


def warnOnceIfForkingWithThreads(what: str) -> None:
    """Logs once per process, as Python warns, when ``what`` is forked while other Python
    threads run."""
    global _warned
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if _warned or not others:
        return
    _warned = True
    _log.warning(
        "forking the child of %s while %d other thread(s) run (%s): the child gets a copy of "
        "whatever they held at that moment, locks included. If a child hangs before it is "
        "ready, give the object startMethod='forkserver' (or call "
        "multiprocessing.set_start_method('forkserver') first); its state must then pickle.",
        what,
        len(others),
        ", ".join(others),
    )
