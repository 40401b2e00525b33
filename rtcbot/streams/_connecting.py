"""What both attach clients (asyncio and blocking) share: how often to try a publisher
that is not there, and what a failed connection to its socket means."""

from __future__ import annotations

import errno
import os

from ._errors import NotAllowedToAttach
from ._names import describeUser, publishedNames, socketPath, streamDirectory

#: Seconds between attempts to reach a publisher that is not there (yet, or again).
RETRY_INTERVAL = 0.02
#: A stream still not found after this many seconds is reported (a warning), once.
WAIT_WARNING_AFTER = 10.0

#: How a connection to a publisher ended.
ENDED_CLOSED = "closed"  # the publisher closed the stream
ENDED_LOST = "lost"  # the publisher went away without a word


def notAllowed(name: str, error: OSError) -> NotAllowedToAttach:
    """The error for a stream socket this user may not connect to."""
    path = socketPath(name)
    try:
        info = os.stat(path)
        owner = f"owned by user {describeUser(info.st_uid)}, group {info.st_gid}, mode {info.st_mode & 0o777:o}"
    except OSError:
        owner = "not readable"
    return NotAllowedToAttach(
        f"user {describeUser(os.geteuid())} may not attach to stream {name!r} ({path} is {owner}: "
        f"{error.strerror}); the publisher can allow a group with publish({name!r}, group=...)"
    )


def connectError(name: str, error: OSError) -> OSError | None:
    """None when ``error`` means the publisher is not there (wait for it), else the error
    to raise."""
    if error.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN):
        return None
    if error.errno in (errno.EACCES, errno.EPERM):
        return notAllowed(name, error)
    return error


def waitingMessage(name: str, seconds: float) -> str:
    """The warning for a stream that has not appeared, with the names that exist."""
    others = ", ".join(publishedNames()) or "none"
    return (
        f"no publisher of stream {name!r} for {seconds:g} s in {streamDirectory()} (streams there: "
        f"{others}); still waiting. Is the name right, and RTCBOT_STREAM_DIR the same as the publisher's?"
    )
