"""The errors of named streams."""

from __future__ import annotations


class StreamNameInUse(RuntimeError):
    """Another live program already publishes a stream of this name."""


class NotAllowedToAttach(PermissionError):
    """The publisher does not let this user attach (see ``publish(..., group=...)``)."""


class PublisherGone(ConnectionError):
    """The publishing program went away without closing its stream (it crashed or was killed)."""
