"""The background thread of a threaded producer or consumer, and when it starts and ends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ._errors import SubscriptionClosed
from ._loopbinding import LoopGone
from .events import baseEventHandler, threadedEventHandler


class StartsAfterInit(type):
    """Metaclass that calls ``obj._afterInit()`` once the whole ``__init__`` chain is done.

    Background workers start there, so attributes a subclass assigns after calling
    ``super().__init__()`` are visible to the worker (RTCBot 0.2.5 raced on them).
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        obj._afterInit()
        return obj


class ThreadedObject(threadedEventHandler, metaclass=StartsAfterInit):
    """An event handler with one worker thread running ``self._workerTarget()``.

    The worker starts after construction, once the object's event loop is known. When it
    returns the object closes; when it raises, the exception becomes the object's error.
    ``close()`` may be called from any thread and never waits for the worker;
    ``await obj`` does.
    """

    _shouldClose: bool

    def _initWorker(self, target: Callable[[], object], daemon: bool) -> None:
        self._workerTarget = target
        self._workerDaemon = daemon
        self._workerThread: threading.Thread | None = None
        self._workerDone = False

    def _afterInit(self) -> None:
        self._loopBinding.whenBound(self._startWorker)

    def _startWorker(self) -> None:
        if self._shouldClose or self._workerThread is not None:
            return
        self._workerThread = threading.Thread(
            target=self._runWorker, name=f"rtcbot-{type(self).__name__}", daemon=self._workerDaemon
        )
        self._workerThread.start()

    def _runWorker(self) -> None:
        error: BaseException | None = None
        try:
            self._workerTarget()
        except SubscriptionClosed:
            pass
        except BaseException as exc:
            error = exc
        try:
            self._loopBinding.call(self._workerExited, error)
        except LoopGone:
            if error is not None:
                self._log.error("worker raised after the event loop closed", exc_info=error)

    def _workerExited(self, error: BaseException | None) -> None:
        thread = self._workerThread
        if thread is not None:
            thread.join(timeout=1.0)  # it has just posted this call and is returning
        self._workerDone = True
        if error is not None:
            self._log.error("worker thread raised %r", error, exc_info=error)
            baseEventHandler._setError(self, error)
        elif not self.closed:
            self.close()
        self._notifyState()

    def _isTornDown(self) -> bool:
        return self.closed and (self._workerThread is None or self._workerDone)

    def _closeInLoop(self, closeNow: Callable[[], None]) -> None:
        """Runs ``closeNow`` in the loop; from another thread, flags the worker at once."""
        if self._loopBinding.loop is not None and not self._loopBinding.inLoopThread():
            self._shouldClose = True
        self._runInLoop(closeNow)
