"""Noticing that an event loop starts running, for objects made before any loop existed.

RTCBot's programs make their objects at module level and then run a loop that never touches
them: ``asyncio.get_event_loop().run_forever()``, aiohttp's ``web.run_app(app)`` (a new
loop of its own) or ``asyncio.run(main())`` where ``main`` only waits. asyncio has no public
hook for a loop starting, but every loop that follows asyncio's contract (asyncio's own,
uvloop) installs its asynchronous-generator hooks as it starts to run, and Python raises the
audit event ``sys.set_asyncgen_hook_firstiter`` when that happens. At that moment
``sys.get_asyncgen_hooks().finalizer`` is the starting loop's bound method, so the loop is
known before it runs its first callback.

An object waiting for a loop registers here with :func:`whenALoopStarts`; the first loop to
start in the thread that registered it then runs the object's callback as its first callback.
Registrations are weak: an object that is dropped is forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import weakref
from typing import Protocol

_AUDIT_EVENT = "sys.set_asyncgen_hook_firstiter"


class WaitsForLoop(Protocol):
    """An object that wants to hear of the first loop to start in its thread."""

    def _loopStarted(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called as the first callback of that loop."""


_waiting: dict[int, weakref.WeakSet[WaitsForLoop]] = {}  # thread ident -> waiting objects
_lock = threading.Lock()
_hookInstalled = False


def whenALoopStarts(waiter: WaitsForLoop) -> None:
    """Calls ``waiter._loopStarted(loop)`` from the first event loop that starts to run in
    this thread from now on (once; a waiter that binds otherwise just ignores the call)."""
    global _hookInstalled
    with _lock:
        _waiting.setdefault(threading.get_ident(), weakref.WeakSet()).add(waiter)
        if not _hookInstalled:
            sys.addaudithook(_onAuditEvent)  # audit hooks cannot be removed: installed once
            _hookInstalled = True


def _onAuditEvent(event: str, arguments: tuple[object, ...]) -> None:
    if event != _AUDIT_EVENT or not _waiting:
        return
    loop = getattr(sys.get_asyncgen_hooks().finalizer, "__self__", None)
    if not isinstance(loop, asyncio.AbstractEventLoop) or loop.is_closed():
        return  # hooks set by something else, or restored as a loop stops
    with _lock:
        waiters = _waiting.pop(threading.get_ident(), None)
    if not waiters:
        return
    for waiter in list(waiters):
        with contextlib.suppress(Exception):  # an audit hook must never break the code that raised the event
            loop.call_soon(waiter._loopStarted, loop)
