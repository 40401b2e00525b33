"""A named stream as a blocking iterator, for programs without an event loop."""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Iterator

from ..shm.channel import BlockingChannel
from ..shm.frame import Frame
from ..shm.protocol import Kind, decodeFrame, decodeRetire, decodeRing, encodeRelease
from ..shm.ring import SlotReader
from ._attached import ENDED_CLOSED, ENDED_LOST, RETRY_INTERVAL, connectError
from ._errors import NotAllowedToAttach, PublisherGone
from ._names import socketPath
from ._wire import WANT_FRAMES, decodeJson, hello


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _connect(name: str, deadline: float | None) -> socket.socket:
    path = str(socketPath(name))
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(path)
            return sock
        except OSError as error:
            sock.close()
            problem = connectError(name, error)
            if problem is not None:
                raise problem from None
        remaining = _remaining(deadline)
        if remaining == 0:
            raise TimeoutError(f"no publisher of stream {name!r} appeared in time")
        time.sleep(RETRY_INTERVAL if remaining is None else min(RETRY_INTERVAL, remaining))


class _BlockingConnection:
    """One connection: releases are queued by whatever thread drops a frame, and sent by
    the iterating thread (a lock taken inside a finalizer could deadlock)."""

    def __init__(self, sock: socket.socket) -> None:
        self.channel = BlockingChannel(sock)
        self._releases: deque[tuple[int, int]] = deque()
        self.reader = SlotReader(lambda generation, slot: self._releases.append((generation, slot)))
        self.publisherPid: int | None = None

    def flushReleases(self) -> None:
        if not self._releases:
            return
        messages = []
        while self._releases:
            messages.append(encodeRelease(*self._releases.popleft()))
        try:
            self.channel.send(b"".join(messages))
        except OSError:
            pass  # the publisher is gone; the next receive says so

    def close(self) -> None:
        self.reader.close()
        self.channel.close()


def blockingFrames(name: str, reattach: bool, timeout: float | None) -> Iterator[Frame]:
    """Yields the stream's frames (see ``AttachedStream.frames``)."""
    while True:
        deadline = None if timeout is None else time.monotonic() + timeout
        connection = _BlockingConnection(_connect(name, deadline))
        how = None
        try:
            connection.channel.send(hello(WANT_FRAMES, os.getpid()))
            while how is None:
                connection.flushReleases()
                messages = connection.channel.receive(block=True, timeout=_remaining(deadline))
                if connection.channel.ended:
                    how = ENDED_LOST
                elif not messages and _remaining(deadline) == 0:
                    raise TimeoutError(f"no frame from stream {name!r} in {timeout:g} s")
                for kind, payload in messages:
                    if kind is Kind.FRAME:
                        deadline = None if timeout is None else time.monotonic() + timeout
                        yield connection.reader.frame(decodeFrame(payload), time.monotonic_ns())
                    elif kind is Kind.NEW_RING:
                        connection.reader.addRing(decodeRing(payload), connection.channel.reader.takeFd())
                    elif kind is Kind.RETIRE_RING:
                        connection.reader.retire(decodeRetire(payload))
                    elif kind is Kind.INFO:
                        connection.publisherPid = int(decodeJson(payload)["pid"])
                    elif kind is Kind.REFUSED:
                        raise NotAllowedToAttach(payload.decode(errors="replace"))
                    elif kind is Kind.CLOSE:
                        how = ENDED_CLOSED
                        break
        finally:
            connection.close()
        if reattach:
            continue
        if how == ENDED_CLOSED:
            return
        raise PublisherGone(
            f"the publisher of stream {name!r} (pid {connection.publisherPid}) went away without closing it"
        )
