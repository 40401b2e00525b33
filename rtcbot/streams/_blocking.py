"""A named stream as a blocking iterator, for programs without an event loop."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

from ..shm.announcements import EdgeWatch
from ..shm.channel import BlockingChannel
from ..shm.frame import Frame
from ..shm.protocol import Kind
from ._connecting import ENDED_CLOSED, ENDED_LOST, RETRY_INTERVAL, connectError
from ._errors import NotAllowedToAttach, PublisherGone
from ._names import socketPath
from ._receiving import Announcements
from ._socket import unixSocket
from ._wire import WANT_FRAMES, decodeJson, hello


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _connect(name: str, deadline: float | None) -> socket.socket:
    path = str(socketPath(name))
    while True:
        sock = unixSocket(blocking=True)
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
    """One connection, waited on with an epoll of its own: the socket and the wake-ups."""

    def __init__(self, sock: socket.socket) -> None:
        self.channel = BlockingChannel(sock)
        self.arrived: list[Any] = []
        self.announcements = Announcements(self.arrived.append)
        self.wakeup: EdgeWatch | None = None
        self.publisherPid: int | None = None
        self.ended: str | None = None
        self._poller = select.epoll()
        self._poller.register(sock.fileno(), select.EPOLLIN)

    def wait(self, timeout: float | None) -> None:
        """Waits for something (at most ``timeout`` s) and handles what came."""
        self._poller.poll(-1 if timeout is None else timeout)
        self._handle(self.channel.receive(block=False))
        if self.channel.ended and self.ended is None:
            self.ended = ENDED_LOST
        if self.wakeup is not None:
            self.wakeup.consume()
        self.announcements.deliverNew()

    def _handle(self, messages: list[tuple[Kind, bytes]]) -> None:
        for kind, payload in messages:
            if self.announcements.handle(kind, payload, self.channel.reader):
                continue
            if kind is Kind.WAKEUP:
                self.wakeup = EdgeWatch(self.channel.reader.takeFd())
                self._poller.register(self.wakeup.fileno(), select.EPOLLIN)
            elif kind is Kind.INFO:
                self.publisherPid = int(decodeJson(payload)["pid"])
            elif kind is Kind.REFUSED:
                raise NotAllowedToAttach(payload.decode(errors="replace"))
            elif kind is Kind.CLOSE:
                self.ended = ENDED_CLOSED

    def close(self) -> None:
        self.arrived.clear()
        self._poller.close()
        if self.wakeup is not None:
            self.wakeup.close()
        self.announcements.close()
        self.channel.close()


def blockingFrames(name: str, reattach: bool, timeout: float | None) -> Iterator[Frame]:
    """Yields the stream's frames (see ``AttachedStream.frames``)."""
    while True:
        deadline = None if timeout is None else time.monotonic() + timeout
        connection = _BlockingConnection(_connect(name, deadline))
        try:
            connection.channel.send(hello(WANT_FRAMES, os.getpid()))
            while connection.ended is None:
                connection.wait(_remaining(deadline))
                if not connection.arrived and connection.ended is None and _remaining(deadline) == 0:
                    raise TimeoutError(f"no frame from stream {name!r} in {timeout:g} s")
                while connection.arrived:
                    deadline = None if timeout is None else time.monotonic() + timeout
                    yield connection.arrived.pop(0)
        finally:
            connection.close()
        if reattach:
            continue
        if connection.ended == ENDED_CLOSED:
            return
        raise PublisherGone(
            f"the publisher of stream {name!r} (pid {connection.publisherPid}) went away without closing it"
        )
