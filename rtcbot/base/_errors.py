"""The exception that tells consumers and readers their object has closed."""

from __future__ import annotations


class SubscriptionClosed(Exception):
    """Raised by reads (``get()``, ``_get()``) once the object or its source has closed.

    A consumer's processing loop treats it as the signal to clean up and exit.
    """


SubscriptionClosed.__module__ = "rtcbot.base.base"


class ChildProcessDied(RuntimeError):
    """A child process ended without being asked to: killed by a signal or exited early.

    ``exitcode`` is the process's exit code (negative: the number of the signal).
    """

    def __init__(self, message: str, exitcode: int | None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class RemoteError(RuntimeError):
    """An exception raised in a child process that cannot be recreated in this process
    (its class is not importable here, or it does not pickle). The message names its type."""


class RemoteTraceback(Exception):
    """Carries the traceback text of an exception raised in a child process.

    It is set as the ``__cause__`` of that exception, so printed tracebacks show where the
    child failed.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


ChildProcessDied.__module__ = RemoteError.__module__ = RemoteTraceback.__module__ = (
    "rtcbot.base.multiprocess"
)
