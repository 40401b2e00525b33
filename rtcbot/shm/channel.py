"""The two ends of a child process's socket.

:class:`LoopChannel` is the parent's end, driven by the event loop (``add_reader`` /
``add_writer``, never blocking). :class:`BlockingChannel` is the child's end, used from
ordinary blocking code. Both speak the messages of :mod:`.protocol`.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import select
import socket
import threading
import weakref
from collections import deque
from collections.abc import Callable

from .protocol import Kind, MessageReader

RECEIVE_SIZE = 1 << 18
MAX_FDS = 16
#: Most messages sent in one sendmsg call.
MAX_BATCH = 64
#: Socket reads per wake-up before the loop gets a turn. A short read does not mean the
#: socket is empty: a read stops where a passed fd is attached.
MAX_READS_PER_WAKEUP = 16

MessageHandler = Callable[[Kind, bytes, MessageReader], None]


_FD_ANCILLARY_SIZE = socket.CMSG_LEN(MAX_FDS * 4)


def _receive(sock: socket.socket, buffer: memoryview, flags: int = 0) -> tuple[bytes, list[int]]:
    """One recvmsg into ``buffer``: the bytes and any passed fds. Reusing a buffer spares
    allocating a RECEIVE_SIZE bytes object per read (what ``sock.recvmsg`` does), which
    costs several times the read itself. (socket.recv_fds ignores flags on 3.11.)"""
    size, ancillary, _, _ = sock.recvmsg_into([buffer], _FD_ANCILLARY_SIZE, flags)
    data = bytes(buffer[:size])
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds.extend(int.from_bytes(payload[i : i + 4], "little", signed=True) for i in range(0, usable, 4))
    return data, fds


def _fdAncillary(fd: int | None) -> list[tuple[int, int, bytes]]:
    if fd is None:
        return []
    return [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, "little", signed=True))]


_parentEnds: weakref.WeakSet[socket.socket] = weakref.WeakSet()


def _closeParentEndsInChild() -> None:
    """A forked child must not hold its parent's ends of other children's sockets: they
    would keep those children from seeing their parent go away."""
    for sock in list(_parentEnds):
        fd = sock.detach()
        if fd >= 0:
            os.close(fd)
    _parentEnds.clear()


os.register_at_fork(after_in_child=_closeParentEndsInChild)


class LoopChannel:
    """The parent's end: messages are handled as they arrive; sends never block.

    ``onEnd`` is called once when the other end closes (or fails), after its last message.
    """

    def __init__(self, sock: socket.socket, onMessage: MessageHandler, onEnd: Callable[[], None] | None = None) -> None:
        sock.setblocking(False)
        _parentEnds.add(sock)
        self._sock = sock
        self._buffer = memoryview(bytearray(RECEIVE_SIZE))
        self._onMessage = onMessage
        self._onEnd = onEnd
        self._reader = MessageReader()
        self._outbox: deque[tuple[memoryview, int | None]] = deque()
        self._pendingBytes = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing = False
        self._flushScheduled = False
        self._ended = False
        self._drained: list[asyncio.Future[None]] = []

    @property
    def ended(self) -> bool:
        """True once the other end has closed (or failed) and everything before was handled."""
        return self._ended

    @property
    def pendingBytes(self) -> int:
        """Bytes accepted by send() but not yet in the socket."""
        return self._pendingBytes

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Starts reading with ``loop`` and flushes anything sent before."""
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self.receiveAvailable)
        self._flush()

    def receiveAvailable(self, maxReads: int = MAX_READS_PER_WAKEUP) -> None:
        """Reads and handles what has arrived, without blocking: at most ``maxReads`` reads
        (so a flooding child cannot starve the loop; the reader fires again), or with
        ``maxReads=0`` until the socket is empty, e.g. to drain a child that has exited."""
        reads = 0
        while not self._ended and (maxReads == 0 or reads < maxReads):
            reads += 1
            try:
                data, fds = _receive(self._sock, self._buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data:
                self._end()
                return
            self._reader.feed(data, fds)
            for kind, payload in self._reader.messages():
                if self._ended:  # a handler closed the channel
                    return
                self._onMessage(kind, payload, self._reader)
            if maxReads and len(data) < RECEIVE_SIZE:
                # Probably empty: not reading again spares the costly BlockingIOError; if
                # more is there (after a passed fd), the reader fires again.
                return

    def _end(self) -> None:
        self._ended = True
        if self._loop is not None and self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
        if self._onEnd is not None:
            self._onEnd()

    def send(self, data: bytes, fd: int | None = None) -> None:
        """Queues a message (with an fd to pass, which is duplicated) and sends what it can."""
        if self._sock.fileno() < 0:
            return
        self._outbox.append((memoryview(data), None if fd is None else os.dup(fd)))
        self._pendingBytes += len(data)
        if not self._writing:
            self._flush()

    def sendSoon(self, data: bytes) -> None:
        """Queues a small message to leave at the end of this loop iteration, together with
        any others queued meanwhile: one system call for many (used for slot releases)."""
        if self._sock.fileno() < 0:
            return
        self._outbox.append((memoryview(data), None))
        self._pendingBytes += len(data)
        if self._loop is None:
            self._flush()
        elif not self._writing and not self._flushScheduled:
            self._flushScheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flushScheduled = False
        while self._outbox:
            batch = self._nextBatch()
            try:
                sent = self._sock.sendmsg([data for data, _ in batch], _fdAncillary(batch[0][1]))
            except (BlockingIOError, InterruptedError):
                self._waitWritable()
                return
            except OSError:  # the child is gone; nothing more can be delivered
                self._dropOutbox()
                return
            if batch[0][1] is not None:
                os.close(batch[0][1])
                self._outbox[0] = (self._outbox[0][0], None)
            self._pendingBytes -= sent
            while sent:
                data, _ = self._outbox[0]
                if sent >= len(data):
                    sent -= len(data)
                    self._outbox.popleft()
                else:
                    self._outbox[0] = (data[sent:], None)
                    sent = 0
        if self._writing and self._loop is not None:
            self._loop.remove_writer(self._sock.fileno())
            self._writing = False
        self._wakeDrainWaiters()

    def _nextBatch(self) -> list[tuple[memoryview, int | None]]:
        """Queued messages to send in one call: an fd may only ride on the first."""
        batch = [self._outbox[0]]
        for message in itertools.islice(self._outbox, 1, MAX_BATCH):
            if message[1] is not None:
                break
            batch.append(message)
        return batch

    def _waitWritable(self) -> None:
        if not self._writing and self._loop is not None:
            self._loop.add_writer(self._sock.fileno(), self._flush)
            self._writing = True

    def _dropOutbox(self) -> None:
        for _, fd in self._outbox:
            if fd is not None:
                os.close(fd)
        self._outbox.clear()
        self._pendingBytes = 0
        self._wakeDrainWaiters()

    def _wakeDrainWaiters(self) -> None:
        waiters, self._drained = self._drained, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def drained(self) -> None:
        """Waits until everything sent has reached the socket."""
        while self._outbox:
            waiter = asyncio.get_running_loop().create_future()
            self._drained.append(waiter)
            await waiter

    def close(self) -> None:
        """Stops reading and writing and closes the socket; unsent messages are dropped."""
        self._ended = True
        if self._loop is not None and self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            if self._writing:
                self._loop.remove_writer(self._sock.fileno())
        self._writing = False
        self._dropOutbox()
        self._sock.close()
        self._reader.closeFds()


class BlockingChannel:
    """The child's end: blocking sends (thread-safe) and blocking or polling receives."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        self._sock = sock
        self._buffer = memoryview(bytearray(RECEIVE_SIZE))
        self._poller = select.poll()
        self._poller.register(sock, select.POLLIN)
        self.reader = MessageReader()
        self._sendLock = threading.Lock()
        self.ended = False

    def send(self, data: bytes, fd: int | None = None) -> None:
        """Sends one whole message; raises ``BrokenPipeError`` if the parent is gone."""
        with self._sendLock:
            view = memoryview(data)
            sent = self._sock.sendmsg([view], _fdAncillary(fd))
            if sent < len(view):
                self._sock.sendall(view[sent:])

    def receive(self, block: bool, timeout: float | None = None) -> list[tuple[Kind, bytes]]:
        """The messages that arrived; when ``block``, waits for some data (at most
        ``timeout`` seconds if given)."""
        if self.ended:
            return []
        if block and timeout is not None and not self._readable(timeout):
            return []
        if not block and not self._poller.poll(0):
            return []  # cheaper than a BlockingIOError
        flags = 0 if block else socket.MSG_DONTWAIT
        while True:
            try:
                data, fds = _receive(self._sock, self._buffer, flags)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data, fds = b"", []
            if not data:
                self.ended = True
                break
            self.reader.feed(data, fds)
            if not fds:
                break
            # A read ends at a passed fd: what was sent after it (often more fds, e.g. for
            # several programs attaching at once) is read now, not one wake-up later each.
            flags = socket.MSG_DONTWAIT
        return list(self.reader.messages())

    def _readable(self, timeout: float) -> bool:
        return bool(self._poller.poll(max(0, math.ceil(timeout * 1000))))

    def close(self) -> None:
        """Closes the socket and any received fds nobody took."""
        self._sock.close()
        self.reader.closeFds()
