"""Messages to and from a microcontroller (an Arduino, an ESP32) over a serial port:
RTCBot's ``SerialConnection``, read and written by the event loop itself."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._serialframing import LINES, SerialDecoder, SerialEncoder, startMarker
from ._serialtty import checkBaudrate, openSerialPort
from .base import ConsumerClosed, SubscriptionProducerConsumer
from .base.base import ProducerConsumerStatistics, bothSidesCounters

__all__ = ["SerialConnection", "SerialStatistics"]

_log = logging.getLogger("rtcbot.SerialConnection")

#: How often a lost port is tried again, in seconds.
REOPEN_INTERVAL = 0.2
READ_SIZE = 4096  # per turn of the loop: a burst is published over several turns, none long


@dataclass(frozen=True)
class SerialStatistics(ProducerConsumerStatistics):
    """A snapshot of a serial connection's counters."""

    connected: bool
    """The port is open now."""
    reconnections: int
    """Times the port was lost and opened again."""
    skippedBytes: int
    """Bytes read but thrown away: before ``startByte``, or in an over-long line."""
    partialMessages: int
    """Incomplete messages dropped (the port was lost in the middle of one)."""
    unsendable: int
    """Items from a ``putSubscription`` source that did not fit ``writeFormat`` (logged, skipped)."""


class _Encoded(bytes):
    """A message ``put_nowait`` has already turned into bytes."""


class SerialConnection(SubscriptionProducerConsumer[Any, Any]):
    """Reads messages from and writes messages to the serial port ``url``.

    Reading: by default each message is one line, as ``bytes`` without its ``b"\\n"``;
    ``readFormat=None`` gives the bytes as they arrive; a struct format (``"<BH"``) gives
    a tuple per struct, or with ``readKeys`` a dict. ``get()`` and ``subscribe()`` read
    them (the first ``get()`` makes the default subscription, as in RTCBot).

    Writing: ``put_nowait`` takes ``str``/bytes, or with a struct ``writeFormat`` a tuple,
    or with ``writeKeys`` a dict; a message that does not fit raises there. Messages are
    written once the connection is ready, plus ``delayWriteStart`` seconds.

    Ready: when the port is open, or with ``startByte`` (an int, or bytes the board sends
    once as it starts) once those bytes arrive; what comes before them is skipped.

    A port that disappears (unplugged, the board reset) is logged, the object stops being
    ready, and it is opened again when it comes back; messages put meanwhile wait and
    are written then. Bytes that cannot be part of a message are skipped and counted
    (:meth:`statistics`), never delivered. The port opens in the constructor, so a wrong
    path raises there; the object may be made before the event loop runs.
    """

    def __init__(
        self,
        url: str = "/dev/ttyS0",
        readFormat: str | None = LINES,
        writeFormat: str | None = None,
        baudrate: int = 115200,
        writeKeys: Sequence[str] | None = None,
        readKeys: Sequence[str] | None = None,
        startByte: int | bytes | Sequence[int] | None = None,
        delayWriteStart: float = 0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(asyncio.Queue, asyncio.Queue, logger=_log, defaultAutosubscribe=False, ready=False)
        if delayWriteStart < 0:
            raise ValueError(f"delayWriteStart must not be negative, got {delayWriteStart}")
        checkBaudrate(baudrate)
        self._decoder = SerialDecoder(readFormat, readKeys, startMarker(startByte))
        self._encoder = SerialEncoder(writeFormat, writeKeys)
        self._path = url
        self._baudrate = baudrate
        self._delayWriteStart = delayWriteStart
        self._fd: int | None = openSerialPort(url, baudrate)
        self._connected = True
        self._reconnections = 0
        self._unsendable = 0
        self._unsent: bytes | None = None  # taken from the queue, not yet fully written
        self._interrupt: asyncio.Future[str] | None = None  # resolves when the port is lost or closed
        self._started: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        if loop is not None:
            loop.call_soon(self._begin)
        else:
            self._callSoon(self._begin)

    # -- public ---------------------------------------------------------------------------

    def put_nowait(self, data: Any) -> None:
        """Queues ``data`` to be written; raises ``TypeError``/``ValueError`` at once if it
        does not fit the write format (nothing is queued then)."""
        super().put_nowait(_Encoded(self._encoder.encode(data)))

    def isConnected(self) -> bool:
        """True while the port is open and the board has started (sent ``startByte``)."""
        return self._connected and self._decoder.started

    def statistics(self) -> SerialStatistics:
        """A snapshot of the counters: both sides, plus what the port did."""
        return SerialStatistics(
            **bothSidesCounters(self),
            connected=self._connected,
            reconnections=self._reconnections,
            skippedBytes=self._decoder.skippedBytes,
            partialMessages=self._decoder.partialMessages,
            unsendable=self._unsendable,
        )

    def close(self) -> None:
        """Closes the port and the object; ``await`` the object to wait until it is shut."""
        if self.closed:
            return
        super().close()
        self._wake("closed")
        if self._runner is None:
            self._closePort()

    # -- the port, in the event loop ------------------------------------------------------

    def _begin(self) -> None:
        if not self.closed and self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
            self._runner.add_done_callback(lambda _: self._notifyState())

    async def _run(self) -> None:
        try:
            while not self.closed:
                if self._fd is None and not await self._reopen():
                    return
                reason = await self._serve()
                if self.closed:
                    return
                self._connected = False
                self._setReady(False)
                self._closePort()
                self._log.warning("serial port %s lost (%s); it is opened again when it comes back", self._path, reason)
        finally:
            self._closePort()

    async def _reopen(self) -> bool:
        """Tries the port every :data:`REOPEN_INTERVAL` until it opens (True) or the
        object closes (False)."""
        while not self.closed:
            try:
                self._fd = openSerialPort(self._path, self._baudrate)
            except OSError:
                if await self._waitForInterrupt(REOPEN_INTERVAL):
                    return False
                continue
            self._reconnections += 1
            self._connected = True
            self._log.info("serial port %s is back", self._path)
            return True
        return False

    async def _waitForInterrupt(self, timeout: float) -> bool:
        """Waits ``timeout`` seconds; True at once if the object closes meanwhile."""
        self._interrupt = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([self._interrupt], timeout=timeout)
        finally:
            self._interrupt = None
        return self.closed

    async def _serve(self) -> str:
        """Reads and writes the open port until it is lost or the object closes; returns why."""
        fd = self._fd
        assert fd is not None
        loop = asyncio.get_running_loop()
        self._interrupt = loop.create_future()
        self._started = asyncio.Event()
        self._decoder.restart()
        if self._decoder.started:
            self._boardStarted()
        loop.add_reader(fd, self._readable, fd)
        writer = asyncio.ensure_future(self._writeAll(fd))
        writer.add_done_callback(self._writerEnded)
        try:
            return await self._interrupt
        finally:
            self._interrupt = None
            loop.remove_reader(fd)
            writer.cancel()
            await asyncio.wait([writer])

    def _wake(self, reason: str) -> None:
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(reason)

    def _boardStarted(self) -> None:
        assert self._started is not None
        self._started.set()
        self._setReady(True)

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._wake(os.strerror(error.errno) if error.errno else str(error))
            return
        if not data:
            self._wake("end of file: hung up")
            return
        wasStarted = self._decoder.started
        for message in self._decoder.feed(data):
            self._put_nowait(message)
        if self._decoder.started and not wasStarted:
            self._log.debug("start bytes found on %s", self._path)
            self._boardStarted()

    async def _writeAll(self, fd: int) -> None:
        assert self._started is not None
        await self._started.wait()
        if self._delayWriteStart:
            await asyncio.sleep(self._delayWriteStart)
        while True:
            if self._unsent is None:
                try:
                    item = await self._get()
                except ConsumerClosed:
                    return
                self._unsent = self._bytesOf(item)
                if self._unsent is None:
                    continue
            await self._write(fd, self._unsent)
            self._unsent = None

    def _bytesOf(self, item: Any) -> bytes | None:
        if isinstance(item, _Encoded):
            return item
        try:
            return self._encoder.encode(item)
        except (TypeError, ValueError) as error:
            self._unsendable += 1
            self._rateLimitedLog.log("unsendable", logging.WARNING, "skipped a message that cannot be sent: %s", error)
            return None

    async def _write(self, fd: int, data: bytes) -> None:
        """Writes all of ``data``, waiting while the port's buffer is full. If the port is
        lost part-way, the whole message is written again once it is back."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except (BlockingIOError, InterruptedError):
                await self._writable(fd)

    async def _writable(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_writer(fd, _resolve, ready)
        try:
            await ready
        finally:
            loop.remove_writer(fd)

    def _writerEnded(self, writer: asyncio.Task[None]) -> None:
        if writer.cancelled():
            return
        error = writer.exception()
        if isinstance(error, OSError):
            self._wake(os.strerror(error.errno) if error.errno else str(error))
        elif error is not None:
            self._log.error("serial writer failed", exc_info=error)
            self._setError(error)

    def _closePort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._connected = False

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and (self._runner is None or self._runner.done())

    def _reprDetails(self) -> list[str]:
        return [*super()._reprDetails(), self._path]


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
