"""The attaching side of a named stream: a producer fed by another program's publication."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..base.base import BaseSubscriptionProducer, ProducerStatistics
from ..shm.announcements import EdgeWatch
from ..shm.channel import LoopChannel
from ..shm.frame import Frame
from ..shm.protocol import Kind, MessageReader, decodeReady
from ._connecting import ENDED_CLOSED, ENDED_LOST, RETRY_INTERVAL, WAIT_WARNING_AFTER, connectError, waitingMessage
from ._errors import NotAllowedToAttach, PublisherGone
from ._names import checkName, socketPath
from ._receiving import Announcements
from ._socket import unixSocket
from ._wire import WANT_FRAMES, decodeJson, hello


@dataclass(frozen=True)
class AttachedStreamStatistics(ProducerStatistics):
    """A snapshot of an attached stream's counters."""

    received: int
    """Frames and items that came from the publisher."""
    missed: int
    """Frames missing from the sequence numbers (dropped at the source, or not sent to this
    program while it held its limit of frames)."""
    gaps: int
    """Breaks in the stream: each run of missed frames, and each time another publisher took
    over after the first went away (a new publisher numbers its frames anew, so the frames
    lost meanwhile cannot be counted, only the break)."""
    attachments: int
    """Times a publisher was reached (more than 1 after restarts)."""
    slotsInUse: int
    """Frames of the publisher this program holds now."""
    publisherPid: int | None
    """The pid of the publisher attached now."""


class _Connection:
    """One connection to a publisher: its socket, its announcement page, and the rings it
    announced."""

    def __init__(
        self,
        stream: AttachedStream,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        ended: asyncio.Future[str],
    ) -> None:
        self._stream = stream
        self._loop = loop
        self._ended = ended
        self.announcements = Announcements(stream._deliver)
        self.publisherPid: int | None = None
        self._wakeup: EdgeWatch | None = None
        self._channel = LoopChannel(sock, self._onMessage, self._onEnd)
        self._channel.attach(loop)
        self._channel.send(hello(WANT_FRAMES, os.getpid()))

    def _finish(self, how: str) -> None:
        if not self._ended.done():
            self._ended.set_result(how)

    def _onWakeup(self) -> None:
        assert self._wakeup is not None
        self._wakeup.consume()
        self.announcements.deliverNew()

    def _onMessage(self, kind: Kind, payload: bytes, reader: MessageReader) -> None:
        stream = self._stream
        if self.announcements.handle(kind, payload, reader):
            return
        if kind is Kind.WAKEUP:
            self._wakeup = EdgeWatch(reader.takeFd())
            self._loop.add_reader(self._wakeup.fileno(), self._onWakeup)
        elif kind is Kind.INFO:
            info = decodeJson(payload)
            self.publisherPid = int(info["pid"])
            stream._connected(info)
        elif kind is Kind.READY:
            stream._setReady(decodeReady(payload))
        elif kind is Kind.CLOSE:
            self._finish(ENDED_CLOSED)
        elif kind is Kind.REFUSED:
            stream._setError(NotAllowedToAttach(payload.decode(errors="replace")))
            self._finish(ENDED_CLOSED)

    def _onEnd(self) -> None:
        self._finish(ENDED_LOST)

    def close(self) -> None:
        if self._wakeup is not None:
            self._loop.remove_reader(self._wakeup.fileno())
            self._wakeup.close()
        self._channel.close()
        self.announcements.close()


class AttachedStream(BaseSubscriptionProducer[Frame]):
    """The frames another program publishes under ``name``, as a producer of this program.

    Subscribers see the publisher's Frames (same sequence numbers and capture times) in
    the same shared memory: nothing is copied. It waits for a publisher that is not there
    yet. When the publisher goes away, ``reattach=True`` waits for it to come back
    (``ready`` turns False, then ``onReady`` fires again); ``reattach=False`` ends the
    stream: ``PublisherGone`` (an error) if it vanished, ``SourceEnded`` if it closed.

    A program may hold a few frames at a time (the publisher's ``slotsPerProgram``, 2 by
    default); while it holds that many, newer frames skip it and are counted as missed.
    """

    def __init__(
        self,
        name: str,
        *,
        reattach: bool = True,
        defaultSubscriptionClass: Callable[[], Any] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        checkName(name)
        super().__init__(defaultSubscriptionClass, logger=logger, ready=False)
        self.name = name
        self._reattach = reattach
        self._task: asyncio.Task[None] | None = None
        self._connection: _Connection | None = None
        self._received = 0
        self._missed = 0
        self._gaps = 0
        self._attachments = 0
        self._lastSequence = -1
        self._publisherPid: int | None = None  # of the last publisher reached
        self._callSoon(self._start)

    def _start(self) -> None:
        if not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"attach {self.name!r}")
            self._task.add_done_callback(lambda _: self._notifyState())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                sock = await self._connect(loop)
            except OSError as error:
                self._setError(error)
                return
            ended: asyncio.Future[str] = loop.create_future()
            connection = self._connection = _Connection(self, sock, loop, ended)
            try:
                how = await ended
            finally:
                connection.close()
                self._connection = None
            if self.closed:
                return
            self._setReady(False)
            if not self._reattach:
                self._ended(how, connection.publisherPid)
                return
            self._log.info("the publisher of %r %s; waiting for it to come back", self.name, how)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        path = str(socketPath(self.name))
        started = time.monotonic()
        warned = False
        while True:
            sock = unixSocket()
            try:
                await loop.sock_connect(sock, path)
                return sock
            except OSError as error:
                sock.close()
                problem = connectError(self.name, error)
                if problem is not None:
                    raise problem from None
            waited = time.monotonic() - started
            if not warned and waited > WAIT_WARNING_AFTER:
                warned = True
                self._log.warning("%s", waitingMessage(self.name, WAIT_WARNING_AFTER))
            await asyncio.sleep(RETRY_INTERVAL)

    def _ended(self, how: str, pid: int | None) -> None:
        if how == ENDED_CLOSED:
            self._markEndOfData(f"its publisher closed stream {self.name!r}")
            self.close()
        else:
            self._setError(
                PublisherGone(f"the publisher of stream {self.name!r} (pid {pid}) went away without closing it")
            )

    def _connected(self, info: dict[str, Any]) -> None:
        pid = int(info["pid"])
        if self._attachments and pid != self._publisherPid:
            self._gaps += 1  # another process: its sequence numbers start again
            self._lastSequence = -1
        self._publisherPid = pid
        self._attachments += 1
        if info.get("ready"):
            self._setReady(True)

    def _deliver(self, item: Any) -> None:
        self._received += 1
        if isinstance(item, Frame):
            sequence = item.sequence
            if 0 <= self._lastSequence < sequence - 1:
                self._missed += sequence - self._lastSequence - 1
                self._gaps += 1
            self._lastSequence = sequence
        self._put_nowait(item)

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """The stream as a blocking iterator, for programs without asyncio.

        It has its own connection (do not also use this object in an event loop). Raises
        ``TimeoutError`` when no frame comes for ``timeout`` seconds; it ends when the
        publisher closes, unless ``reattach``, and raises ``PublisherGone`` if the publisher
        vanished, unless ``reattach``.
        """
        from ._blocking import blockingFrames

        return blockingFrames(self.name, self._reattach, timeout)

    def statistics(self) -> AttachedStreamStatistics:
        """A snapshot of this stream's counters."""
        base = BaseSubscriptionProducer.statistics(self)
        connection = self._connection
        return AttachedStreamStatistics(
            **vars(base),
            received=self._received,
            missed=self._missed,
            gaps=self._gaps,
            attachments=self._attachments,
            slotsInUse=0 if connection is None else connection.announcements.inUse,
            publisherPid=None if connection is None else connection.publisherPid,
        )

    def close(self) -> None:
        """Detaches: the publisher gets back every frame not still alive here."""
        if self.closed:
            return
        if self._task is not None:
            self._task.cancel()
        super().close()

    def _isTornDown(self) -> bool:
        return self.closed and (self._task is None or self._task.done())

    def _reprDetails(self) -> list[str]:
        """Puts the stream's name first."""
        return [repr(self.name), *super()._reprDetails()]


def attach(name: str, *, reattach: bool = True, **kwargs: Any) -> AttachedStream:
    """The stream another program publishes as ``name`` (see :class:`AttachedStream`)."""
    return AttachedStream(name, reattach=reattach, **kwargs)
