"""The two ends of a child's socket, over a real socketpair in one process."""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from rtcbot.shm.channel import BlockingChannel, LoopChannel
from rtcbot.shm.protocol import Kind, MessageReader, encode

from .fds import isOpen

Received = list[tuple[Kind, bytes]]


class LoopEnd:
    """A LoopChannel that records what arrives and lets the test await it."""

    def __init__(self, sock: socket.socket, takeFds: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        self.received: Received = []
        self.fds: list[int] = []
        self.takeFds = takeFds
        self._changed = asyncio.Event()
        self.channel = LoopChannel(sock, self.onMessage)

    def onMessage(self, kind: Kind, payload: bytes, reader: MessageReader) -> None:
        self.received.append((kind, payload))
        if kind is Kind.NEW_RING and self.takeFds:
            self.fds.append(reader.takeFd())
        self._changed.set()

    @property
    def ended(self) -> bool:
        return self.channel.ended

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Waits for ``condition``, re-checking at each message (and every 5 ms, since the
        end of the stream is no message)."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.005)

    def close(self) -> None:
        self.channel.close()
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


@contextmanager
def connectedEnds(takeFds: bool = True) -> Iterator[tuple[LoopEnd, BlockingChannel]]:
    """A LoopEnd and a BlockingChannel over one socketpair, both closed afterwards
    (call it inside the running loop)."""
    loopSock, childSock = socket.socketpair()
    end = LoopEnd(loopSock, takeFds)
    child = BlockingChannel(childSock)
    try:
        yield end, child
    finally:
        end.close()
        child.close()


async def receiveWithoutBlocking(channel: BlockingChannel, count: int, timeout: float = 5.0) -> Received:
    """Polls a BlockingChannel from the loop (block=False) until ``count`` messages came."""
    received: Received = []
    async with asyncio.timeout(timeout):
        while len(received) < count:
            received.extend(channel.receive(block=False))
            if len(received) < count:
                await asyncio.sleep(0.002)
    return received


async def waitForThread(thread: threading.Thread, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while thread.is_alive():
            await asyncio.sleep(0.005)
    thread.join()


def sameFile(a: int, b: int) -> bool:
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev)


def items(prefix: str, count: int) -> list[bytes]:
    return [encode(Kind.ITEM, f"{prefix} {i}".encode() * (i + 1)) for i in range(count)]


def decoded(messages: list[bytes]) -> Received:
    reader = MessageReader()
    reader.feed(b"".join(messages))
    return list(reader.messages())


def pattern(size: int) -> bytes:
    """Non-repeating at any power-of-two offset (period 251), and quick to make: slow
    setup in a coroutine step would trip the harness's 50 ms blocking check."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


class Ticker:
    """Counts how often the loop got to run other work."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


# --- ordinary messages ----------------------------------------------------------------------


async def test_messagesBothWaysInOrder() -> None:
    with connectedEnds() as (end, child):
        end.channel.attach(asyncio.get_running_loop())
        fromChild = items("child", 20) + [encode(Kind.READY, b"\x01"), encode(Kind.CLOSE)]
        for message in fromChild:
            child.send(message)
        await end.until(lambda: len(end.received) == len(fromChild))
        assert end.received == decoded(fromChild)

        fromLoop = items("parent", 20) + [encode(Kind.CLOSE)]
        for message in fromLoop:
            end.channel.send(message)
        await end.channel.drained()
        assert end.channel.pendingBytes == 0
        assert await receiveWithoutBlocking(child, len(fromLoop)) == decoded(fromLoop)
        assert child.receive(block=False) == []
        assert not end.ended and not child.ended


async def test_sendBeforeAttachIsFlushedOnAttach() -> None:
    with connectedEnds() as (end, child):
        big = encode(Kind.ITEM, pattern(1 << 20))  # more than the socket buffer
        end.channel.send(encode(Kind.ITEM, b"first"))
        end.channel.send(big)
        assert end.channel.pendingBytes > 0
        received: Received = []
        thread = threading.Thread(target=lambda: receiveBlocking(child, 2, received))
        thread.start()
        try:
            end.channel.attach(asyncio.get_running_loop())
            await asyncio.wait_for(end.channel.drained(), 10)
            assert end.channel.pendingBytes == 0
            await waitForThread(thread)
        finally:
            end.channel.close()  # EOF lets the thread finish whatever happened
            thread.join(10)
        assert received == decoded([encode(Kind.ITEM, b"first"), big])


def receiveBlocking(channel: BlockingChannel, count: int, into: Received) -> None:
    while len(into) < count and not channel.ended:
        into.extend(channel.receive(block=True))


# --- passing fds ----------------------------------------------------------------------------


async def test_fdFromLoopToChild() -> None:
    with connectedEnds() as (end, child):
        readEnd, writeEnd = os.pipe()
        try:
            end.channel.attach(asyncio.get_running_loop())
            end.channel.send(encode(Kind.NEW_RING, b"ring"), readEnd)
            await end.channel.drained()
            os.fstat(readEnd)  # the channel sent a duplicate: ours is still open
            messages = await receiveWithoutBlocking(child, 1)
            assert messages == [(Kind.NEW_RING, b"ring")]
            passed = child.reader.takeFd()
            try:
                assert passed != readEnd
                assert sameFile(passed, readEnd)
                os.write(writeEnd, b"through the pipe")
                assert os.read(passed, 100) == b"through the pipe"
            finally:
                os.close(passed)
        finally:
            os.close(readEnd)
            os.close(writeEnd)


async def test_fdFromChildToLoop() -> None:
    with connectedEnds() as (end, child):
        memfd = os.memfd_create("rtcbot-channel-test", os.MFD_CLOEXEC)
        try:
            os.ftruncate(memfd, 4096)
            os.pwrite(memfd, b"shared", 0)
            end.channel.attach(asyncio.get_running_loop())
            child.send(encode(Kind.ITEM, b"before"))
            child.send(encode(Kind.NEW_RING, b"ring"), memfd)
            child.send(encode(Kind.ITEM, b"after"))
            await end.until(lambda: len(end.received) == 3)
            assert end.received == [(Kind.ITEM, b"before"), (Kind.NEW_RING, b"ring"), (Kind.ITEM, b"after")]
            assert len(end.fds) == 1
            assert sameFile(end.fds[0], memfd)
            assert os.pread(end.fds[0], 6, 0) == b"shared"
        finally:
            os.close(memfd)


async def test_severalFdsArriveInOrder() -> None:
    with connectedEnds() as (end, child):
        pipes = [os.pipe() for _ in range(5)]
        try:
            end.channel.attach(asyncio.get_running_loop())
            for index, (readEnd, _) in enumerate(pipes):
                child.send(encode(Kind.NEW_RING, bytes([index])), readEnd)
            await end.until(lambda: len(end.fds) == len(pipes))
            assert [payload for _, payload in end.received] == [bytes([i]) for i in range(len(pipes))]
            for fd, (readEnd, _) in zip(end.fds, pipes, strict=True):
                assert sameFile(fd, readEnd)
        finally:
            for readEnd, writeEnd in pipes:
                os.close(readEnd)
                os.close(writeEnd)


async def test_unclaimedFdsAreClosedWithTheChannel() -> None:
    with connectedEnds(takeFds=False) as (end, child):
        readEnd, writeEnd = os.pipe()
        try:
            before = set(os.listdir("/proc/self/fd"))
            end.channel.attach(asyncio.get_running_loop())
            child.send(encode(Kind.NEW_RING, b"x"), readEnd)
            await end.until(lambda: len(end.received) == 1)
            arrived = set(os.listdir("/proc/self/fd")) - before
            assert len(arrived) == 1  # the received duplicate, held by the channel's reader
            end.channel.close()
            assert not (set(os.listdir("/proc/self/fd")) & arrived)
        finally:
            os.close(readEnd)
            os.close(writeEnd)


def test_blockingChannelCloseClosesUnclaimedFds() -> None:
    loopSock, childSock = socket.socketpair()
    child = BlockingChannel(childSock)
    readEnd, writeEnd = os.pipe()
    try:
        socket.send_fds(loopSock, [encode(Kind.NEW_RING, b"x")], [readEnd])
        assert child.receive(block=True) == [(Kind.NEW_RING, b"x")]
        arrived = child.reader._fds[0]
        assert sameFile(arrived, readEnd)
        child.close()
        with pytest.raises(OSError):
            os.fstat(arrived)
    finally:
        child.close()
        loopSock.close()
        os.close(readEnd)
        os.close(writeEnd)


# --- large messages ------------------------------------------------------------------------


async def test_largeMessageFromLoopWhileLoopKeepsRunning() -> None:
    loopSock, childSock = socket.socketpair()
    end = LoopEnd(loopSock)
    child = BlockingChannel(childSock)
    payload = pickle.dumps({"blob": pattern(5_000_000), "tag": "large"})
    message = encode(Kind.ITEM, payload)
    received: Received = []
    thread = threading.Thread(target=receiveBlocking, args=(child, 2, received))
    ticker = Ticker()
    try:
        end.channel.attach(asyncio.get_running_loop())
        started = time.monotonic()
        end.channel.send(message)  # nobody reads yet: a blocking send would never return
        assert time.monotonic() - started < 0.5
        assert end.channel.pendingBytes > 0  # most of it is still queued
        end.channel.send(encode(Kind.CLOSE))  # queued behind it, in order
        thread.start()
        ticksBefore = ticker.ticks
        await asyncio.wait_for(end.channel.drained(), 10)
        assert ticker.ticks > ticksBefore  # the loop ran other work meanwhile
        assert end.channel.pendingBytes == 0
        await waitForThread(thread)
    finally:
        await ticker.stop()
        end.channel.close()  # EOF ends the thread whatever happened
        if thread.ident is not None:
            thread.join(10)
        end.close()
        child.close()
    assert len(received) == 2
    assert received[0][0] is Kind.ITEM
    assert pickle.loads(received[0][1])["tag"] == "large"
    assert received[0][1] == payload
    assert received[1] == (Kind.CLOSE, b"")


async def test_largeMessageFromChildToLoop() -> None:
    loopSock, childSock = socket.socketpair()
    end = LoopEnd(loopSock)
    child = BlockingChannel(childSock)
    payload = pickle.dumps(pattern(5_000_000))
    sendErrors: list[BaseException] = []

    def sendAll() -> None:
        try:
            child.send(encode(Kind.ITEM, payload))
            child.send(encode(Kind.CLOSE))
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            sendErrors.append(exc)

    thread = threading.Thread(target=sendAll)
    ticker = Ticker()
    try:
        end.channel.attach(asyncio.get_running_loop())
        thread.start()
        await end.until(lambda: len(end.received) == 2, timeout=10)
        await waitForThread(thread)
        assert ticker.ticks > 1
    finally:
        await ticker.stop()
        end.channel.close()  # a blocked sender gets an error and finishes
        if thread.ident is not None:
            thread.join(10)
        end.close()
        child.close()
    assert sendErrors == []
    assert end.received[0] == (Kind.ITEM, payload)
    assert end.received[1] == (Kind.CLOSE, b"")


async def test_concurrentBlockingSendsDoNotInterleave() -> None:
    loopSock, childSock = socket.socketpair()
    end = LoopEnd(loopSock)
    child = BlockingChannel(childSock)
    perThread = 3
    blobs = {name: [bytes([65 + n]) * 300_000 + name.encode() for n in range(perThread)] for name in ("a", "b")}

    def sendMany(name: str) -> None:
        for blob in blobs[name]:
            child.send(encode(Kind.ITEM, blob))

    threads = [threading.Thread(target=sendMany, args=(name,)) for name in blobs]
    try:
        end.channel.attach(asyncio.get_running_loop())
        for thread in threads:
            thread.start()
        await end.until(lambda: len(end.received) == 2 * perThread, timeout=10)
        for thread in threads:
            await waitForThread(thread)
    finally:
        end.channel.close()
        for thread in threads:
            if thread.ident is not None:
                thread.join(10)
        end.close()
        child.close()
    payloads = [payload for _, payload in end.received]
    for name, sent in blobs.items():
        assert [p for p in payloads if p.endswith(name.encode())] == sent  # whole and in order


async def test_peerGoneWhileSendingDropsQueue() -> None:
    with connectedEnds() as (end, child):
        readEnd, writeEnd = os.pipe()
        try:
            end.channel.attach(asyncio.get_running_loop())
            end.channel.send(encode(Kind.ITEM, bytes(4_000_000)))
            end.channel.send(encode(Kind.NEW_RING, b"x"), readEnd)  # a queued duplicate fd
            assert end.channel.pendingBytes > 0
            child.close()  # the child goes away without reading
            await asyncio.wait_for(end.channel.drained(), 5)
            assert end.channel.pendingBytes == 0
            await end.until(lambda: end.ended)
        finally:
            os.close(readEnd)
            os.close(writeEnd)


# --- polling, EOF, closing --------------------------------------------------------------------


def test_receiveWithoutBlockReturnsAtOnce() -> None:
    loopSock, childSock = socket.socketpair()
    child = BlockingChannel(childSock)
    # were receive(block=False) to block, this would wake it after 2 s and the check fails
    rescue = threading.Timer(2.0, lambda: loopSock.send(encode(Kind.ITEM, b"wake")))
    rescue.start()
    try:
        started = time.monotonic()
        assert child.receive(block=False) == []
        assert time.monotonic() - started < 1.0
        # a partial message: still nothing, and the tail is kept
        message = encode(Kind.ITEM, b"partial message")
        loopSock.send(message[:7])  # on a socketpair, readable as soon as send returns
        assert child.receive(block=False) == []  # the header and 2 bytes: kept
        assert child.receive(block=False) == []
        loopSock.send(message[7:])
        assert child.receive(block=True) == [(Kind.ITEM, b"partial message")]
        assert not child.ended
    finally:
        rescue.cancel()
        rescue.join()
        child.close()
        loopSock.close()


@pytest.mark.parametrize("block", [True, False])
def test_eofSetsEnded(block: bool) -> None:
    loopSock, childSock = socket.socketpair()
    child = BlockingChannel(childSock)
    try:
        loopSock.sendall(encode(Kind.ITEM, b"last words"))
        loopSock.close()
        assert child.receive(block=block) == [(Kind.ITEM, b"last words")]
        assert not child.ended
        assert child.receive(block=block) == []
        assert child.ended
        assert child.receive(block=True) == []  # does not block once ended
    finally:
        child.close()
        loopSock.close()


def test_blockingSendToGoneParentRaises() -> None:
    loopSock, childSock = socket.socketpair()
    child = BlockingChannel(childSock)
    try:
        loopSock.close()
        with pytest.raises(BrokenPipeError):
            child.send(encode(Kind.ITEM, b"anyone?"))
    finally:
        child.close()


async def test_loopChannelStopsReadingAtEof() -> None:
    with connectedEnds() as (end, child):
        loop = asyncio.get_running_loop()
        end.channel.attach(loop)
        child.send(encode(Kind.CLOSE))
        child.close()
        await end.until(lambda: end.ended)
        assert end.received == [(Kind.CLOSE, b"")]
        # the reader was removed, and further reads do nothing
        assert not loop.remove_reader(end.channel._sock.fileno())
        end.channel.receiveAvailable()
        assert end.received == [(Kind.CLOSE, b"")] and end.ended


async def test_handlerClosingTheChannelStopsDelivery() -> None:
    loopSock, childSock = socket.socketpair()
    received: Received = []
    holder: dict[str, Any] = {}

    def onMessage(kind: Kind, payload: bytes, reader: MessageReader) -> None:
        received.append((kind, payload))
        holder["channel"].close()

    channel = LoopChannel(loopSock, onMessage)
    holder["channel"] = channel
    child = BlockingChannel(childSock)
    try:
        child.send(b"".join(items("x", 3)))  # all three arrive in one read
        channel.attach(asyncio.get_running_loop())
        async with asyncio.timeout(5):
            while not received:
                await asyncio.sleep(0.002)
        await asyncio.sleep(0.01)
        assert received == decoded(items("x", 1))
    finally:
        channel.close()
        child.close()


async def test_sendAfterCloseIsIgnored() -> None:
    loopSock, childSock = socket.socketpair()
    end = LoopEnd(loopSock)
    readEnd, writeEnd = os.pipe()
    try:
        end.channel.attach(asyncio.get_running_loop())
        end.channel.close()
        end.channel.send(encode(Kind.ITEM, b"late"), readEnd)  # no error, no fd duplicated
        assert end.channel.pendingBytes == 0
        await end.channel.drained()
    finally:
        end.close()
        childSock.close()
        os.close(readEnd)
        os.close(writeEnd)


def _sendItemsAroundPassedFds(sender: BlockingChannel, passed: list[tuple[int, int]]) -> None:
    """An item, then a NEW_RING passing the read end of each pipe in ``passed``, then the
    item "last": a reader's recvmsg stops at each passed fd."""
    for index, (readFd, _) in enumerate(passed):
        sender.send(encode(Kind.ITEM, pickle.dumps(f"before {index}")))
        sender.send(encode(Kind.NEW_RING, b"ring"), readFd)
    sender.send(encode(Kind.ITEM, pickle.dumps("last")))


def test_draining_a_finished_peer_reads_past_the_short_reads_that_passed_fds_cause() -> None:
    """A recvmsg stops where a passed fd is attached, so a short read is not the end: the
    drain of an exited child once lost everything after its first new ring."""
    parentEnd, childEnd = socket.socketpair()
    received: list[tuple[Kind, bytes]] = []
    loopSide = LoopChannel(parentEnd, lambda kind, payload, reader: received.append((kind, payload)))
    sender = BlockingChannel(childEnd)
    passed = [os.pipe() for _ in range(3)]
    try:
        _sendItemsAroundPassedFds(sender, passed)
        sender.close()
        loopSide.receiveAvailable(maxReads=0)  # how a process object drains its exited child
        assert [kind for kind, _ in received] == [Kind.ITEM, Kind.NEW_RING] * 3 + [Kind.ITEM]
        assert pickle.loads(received[-1][1]) == "last"
        assert loopSide.ended
    finally:
        loopSide.close()
        for readFd, writeFd in passed:
            os.close(readFd)
            os.close(writeFd)


async def test_the_loop_reader_gets_every_message_across_the_short_reads_of_passed_fds() -> None:
    """A wake-up stops reading after a short read (sparing a BlockingIOError); what lies
    behind a passed fd then comes with the reader's next turn."""
    parentEnd, childEnd = socket.socketpair()
    received: list[tuple[Kind, bytes]] = []
    allThere = asyncio.Event()

    def onMessage(kind: Kind, payload: bytes, reader: MessageReader) -> None:
        received.append((kind, payload))
        if len(received) == 7:
            allThere.set()

    loopSide = LoopChannel(parentEnd, onMessage)
    sender = BlockingChannel(childEnd)
    passed = [os.pipe() for _ in range(3)]
    try:
        _sendItemsAroundPassedFds(sender, passed)
        loopSide.attach(asyncio.get_running_loop())
        await asyncio.wait_for(allThere.wait(), 10)
        assert [kind for kind, _ in received] == [Kind.ITEM, Kind.NEW_RING] * 3 + [Kind.ITEM]
        assert pickle.loads(received[-1][1]) == "last"
        assert not loopSide.ended
    finally:
        sender.close()
        loopSide.close()
        for readFd, writeFd in passed:
            os.close(readFd)
            os.close(writeFd)


def test_a_blocking_receive_with_a_timeout_returns_empty_when_nothing_came_and_at_once_when_something_did() -> None:
    parentSock, childSock = socket.socketpair()
    child = BlockingChannel(childSock)
    try:
        started = time.monotonic()
        assert child.receive(block=True, timeout=0.05) == []
        waited = time.monotonic() - started
        assert 0.045 <= waited < 2
        parentSock.sendall(encode(Kind.CLOSE))
        started = time.monotonic()
        assert child.receive(block=True, timeout=30) == [(Kind.CLOSE, b"")]
        assert time.monotonic() - started < 5
    finally:
        child.close()
        parentSock.close()


@pytest.mark.parametrize("block", [True, False])
def test_one_receive_reads_past_the_passed_fds_of_several_messages(block: bool) -> None:
    """Several programs attaching at once reach a capture child as one fd-bearing message
    each; one receive takes them all (it took one per frame, so the last program's first
    frame came several frames late)."""
    parentSock, childSock = socket.socketpair()
    child = BlockingChannel(childSock)
    passed = [os.pipe() for _ in range(4)]
    try:
        for index, (readFd, _) in enumerate(passed):
            parentSock.sendmsg(
                [encode(Kind.ITEM, bytes([index]))],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, readFd.to_bytes(4, "little"))],
            )
        parentSock.sendall(encode(Kind.CLOSE))
        received = child.receive(block=block)
        assert received == [(Kind.ITEM, bytes([index])) for index in range(4)] + [(Kind.CLOSE, b"")]
        taken = [child.reader.takeFd() for _ in passed]
        assert all(isOpen(fd) for fd in taken)
        for fd in taken:
            os.close(fd)
    finally:
        child.close()
        parentSock.close()
        for readFd, writeFd in passed:
            os.close(readFd)
            os.close(writeFd)
