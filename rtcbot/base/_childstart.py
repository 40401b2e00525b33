"""Starting a child process without holding up the event loop.

A fork takes a few milliseconds, but a ``forkserver`` start waits until the forkserver has
forked (the first one waits for the forkserver to come up: 55 ms measured), and ``spawn``
writes the child's state into a pipe the new interpreter reads only once it runs. So inside
a running loop those two start in a short-lived thread. Either way a state that does not
pickle is raised to the caller, since the loop's thread waits for the pickling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ._childstate import ChildState
from ._mainmodule import startingWithoutMain


class BackgroundStart:
    """One child starting in its own thread; ``whenDone(error)`` is called from that thread."""

    def __init__(self, process: Any, state: ChildState, whenDone: Callable[[BaseException | None], None]) -> None:
        self._process = process
        self._state = state
        self._whenDone = whenDone
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"rtcbot-start-{process.name}", daemon=True)

    def begin(self) -> None:
        """Starts the thread; returns once the state has pickled, raising its TypeError."""
        self._thread.start()
        self._state.pickled.wait()
        if self._state.pickleError is not None:
            self._thread.join()
            raise self._state.pickleError

    def wait(self) -> BaseException | None:
        """Waits (synchronous code only) until the start has finished; the error if it failed."""
        self._thread.join()
        return self._error

    def _run(self) -> None:
        try:
            with startingWithoutMain(self._state.cls):
                self._process.start()
        except BaseException as error:
            self._error = error
            self._state.pickled.set()  # it failed before pickling: release the caller
            if self._state.pickleError is None:
                self._whenDone(error)
        else:
            self._whenDone(None)
