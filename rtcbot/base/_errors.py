"""The exceptions that tell readers and writers their object has closed, and why."""

from __future__ import annotations


class SubscriptionClosed(Exception):
    """Raised by reads (``get()``, ``_get()``) once the object or its source has closed.

    A consumer's processing loop treats it as the signal to clean up and exit. The
    subclasses below say why; ``except SubscriptionClosed`` catches them all.
    """


class ProducerClosed(SubscriptionClosed):
    """Raised by a producer's ``get()``, ``subscribe()`` and the reads of its subscriptions
    once the producer has closed: ``close()`` was called or an error stopped it."""


class SourceEnded(ProducerClosed):
    """A :class:`ProducerClosed` for a producer that closed because its data ran out: its
    work method returned by itself (a threaded producer's ``_producer()``), or a video
    file reached its end."""


class ClosedBeforeReady(SubscriptionClosed):
    """Raised by ``await obj.onReady()`` when the object closes without having become
    ready (its ``__cause__`` is the error, if one closed it)."""


class ConsumerClosed(SubscriptionClosed):
    """Raised by a consumer's ``put_nowait()``, ``putSubscription()`` and ``_get()`` once
    the consumer has closed, and by ``_get()`` when its event loop is gone."""


# Documented (and pickled) under rtcbot.base.base, which re-exports them.
SubscriptionClosed.__module__ = ProducerClosed.__module__ = SourceEnded.__module__ = "rtcbot.base.base"
ClosedBeforeReady.__module__ = ConsumerClosed.__module__ = "rtcbot.base.base"


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


ChildProcessDied.__module__ = RemoteError.__module__ = RemoteTraceback.__module__ = "rtcbot.base.multiprocess"
