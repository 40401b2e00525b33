"""The publishing side of a named stream: a producer's items offered to other programs.

Every attached program has its own socket (rings' segment fds, items, state) and its own
announcement page (frames). Frames of a process producer are announced by its capture
child itself, straight into the pages: they do not wait for this program. Other frames
(an in-program producer's arrays, copied once into slots of the publication's own) are
announced from here. Either way the slot stays reserved until the program gives the frame
back or goes away.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import pickle
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base._loopbinding import LoopBinding
from ..base.events import baseEventHandler
from ..shm.announcements import MAX_HELD, MAX_PAYLOAD, REAP_AFTER, AnnouncementPage
from ..shm.announcer import Announcer
from ..shm.channel import LoopChannel
from ..shm.frame import Frame
from ..shm.protocol import (
    HEADER,
    FrameHeader,
    Kind,
    MessageReader,
    RingInfo,
    encode,
    encodeFrame,
    encodeProgram,
    encodeReady,
    encodeRetire,
    encodeRing,
)
from ..shm.ring import SharedRing, fitsInSlot
from ._copyring import CopyRing
from ._names import checkName, describeUser, ensureStreamDirectory, groupId, groupsOf, peerCredentials
from ._receiving import encodeItem
from ._socket import ClaimedSocket
from ._wire import WANT_FRAMES, WANT_INFO, decodeJson, encodeJson

if TYPE_CHECKING:
    from ..base.base import BaseSubscriptionProducer
    from ..base.multiprocess import _ProducesFromChild

#: Most programs attached at once.
MAX_PROGRAMS = 64
#: Slots of the publication's own, for arrays that were not in shared memory.
COPY_SLOTS = 16
#: Frames over which the published frame rate is measured.
RATE_WINDOW = 30
_programIds = itertools.count(1)  # unique in this process: a child may serve several publications


@dataclass(frozen=True)
class AttachedProgram:
    """One attached program, as the publisher sees it."""

    pid: int
    uid: int
    sent: int
    """Frames announced to it."""
    skipped: int
    """Frames it did not get because it held its limit of frames (a slow program)."""
    held: int
    """Frames it holds now."""


@dataclass(frozen=True)
class PublicationStatistics:
    """A snapshot of a publication's counters."""

    name: str
    offered: int
    """Items the producer gave while published."""
    programs: tuple[AttachedProgram, ...]
    """Programs attached for frames now."""
    copied: int
    """Arrays copied into the publication's own slots (they were not in shared memory)."""
    copiedBytes: int
    copyDropped: int
    """Arrays lost because every slot of the publication's own was held."""
    refused: int
    """Connections refused: a user not allowed, or too many programs."""


def _slotOf(item: object) -> tuple[Frame, SharedRing, int] | None:
    """The frame, its ring and slot when ``item`` is a whole slot that can be handed on."""
    if not isinstance(item, Frame):
        return None
    lease = item._lease
    if lease is None or not isinstance(lease.ring, SharedRing) or lease.ring.closed:
        return None
    return item, lease.ring, lease.slot


class _Program:
    """One attached program: its socket, its page, the rings it was sent."""

    def __init__(self, publication: Publication, sock: socket.socket, pid: int, uid: int) -> None:
        self.id = next(_programIds)
        self.pid, self.uid = pid, uid
        self._publication = publication
        self._channel = LoopChannel(sock, self._onMessage, self._onEnd)
        self.page: AnnouncementPage | None = None
        self._rings: dict[int, SharedRing] = {}

    @property
    def wantsFrames(self) -> bool:
        return self.page is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._channel.attach(loop)

    def statistics(self) -> AttachedProgram:
        assert self.page is not None
        sent, skipped, held = self.page.counts()
        return AttachedProgram(self.pid, self.uid, sent, skipped, held)

    def sendRing(self, key: int, ring: SharedRing) -> None:
        """Hands the program a ring (under ``key``), retiring rings whose producer did."""
        for oldKey, old in list(self._rings.items()):
            if old.closed:
                self.retireRing(oldKey)
        self._rings[key] = ring
        self._channel.send(encodeRing(RingInfo(key, ring.slotSize, ring.slotCount)), ring.readOnlyFd())

    def hasRing(self, key: int) -> bool:
        return key in self._rings

    def retireRing(self, key: int) -> None:
        if self._rings.pop(key, None) is not None:
            self._channel.send(encodeRetire(key))

    def send(self, message: bytes) -> None:
        if self.wantsFrames:
            self._channel.send(message)

    def _onMessage(self, kind: Kind, payload: bytes, reader: MessageReader) -> None:
        if kind is not Kind.HELLO or self.page is not None:
            self._publication._protocolError(self, f"a {kind.name} message")
            return
        try:
            want = decodeJson(payload).get("want")
        except ValueError:
            want = None
        if want not in (WANT_FRAMES, WANT_INFO):
            self._publication._protocolError(self, f"a HELLO asking for {want!r}")
            return
        if want == WANT_FRAMES:
            self.page = AnnouncementPage(f"stream-{self._publication.name}-{self.pid}")
            self._channel.send(encode(Kind.ANNOUNCEMENTS), self.page.fd)
            self._channel.send(encode(Kind.WAKEUP), self._publication._wakeup)
            self._publication._welcome(self)
        self._channel.send(encodeJson(Kind.INFO, self._publication.describe()))

    def _onEnd(self) -> None:
        self._publication._forget(self)

    def close(self) -> None:
        """Closes its socket and page (the writer lets go of its frames)."""
        self._rings.clear()
        self._channel.close()
        if self.page is not None:
            self.page.close()

    async def closeAfterSending(self, message: bytes, timeout: float) -> None:
        """Sends ``message`` (e.g. CLOSE), waits up to ``timeout`` s for it to leave, closes."""
        self._channel.send(message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._channel.drained(), timeout)
        self.close()


class Publication(baseEventHandler):
    """A producer offered to the other programs of this machine under a name.

    Made by ``producer.publish(name)``; ``close()`` (or leaving ``async with``) stops
    publishing: attached programs are told, and the socket is removed. Closing the
    producer closes its publication.
    """

    def __init__(
        self,
        producer: BaseSubscriptionProducer[Any],
        name: str,
        *,
        group: str | int | None = None,
        slotsPerProgram: int = 2,
        logger: logging.Logger | None = None,
    ) -> None:
        checkName(name)
        if not 1 <= slotsPerProgram <= MAX_HELD:
            raise ValueError(f"slotsPerProgram must be between 1 and {MAX_HELD}, got {slotsPerProgram}")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"publish({name!r}) needs a running event loop: call it from async code (inside asyncio.run(...))"
            ) from None
        gid = None if group is None else groupId(group)
        super().__init__(logger)
        self.name = name
        self._producer = producer
        self._group = gid
        self._slotsPerProgram = slotsPerProgram
        self._loop = loop
        self._programs: list[_Program] = []
        self._copies = CopyRing(f"stream-{name}", COPY_SLOTS, LoopBinding(loop))
        self._offered = self._copied = self._copiedBytes = self._refused = 0
        self._times: collections.deque[int] = collections.deque(maxlen=RATE_WINDOW)
        self._lastShape: tuple[tuple[int, ...], np.dtype[Any]] | None = None  # described when asked
        self._closing: set[asyncio.Task[None]] = set()
        self._onItemListener = self._onItem
        self._reapTimer: asyncio.TimerHandle | None = None
        from ..base.multiprocess import _ProducesFromChild

        # a process producer's child announces its frames itself; other frames are announced here
        self._child: _ProducesFromChild[Any] | None = producer if isinstance(producer, _ProducesFromChild) else None
        self._announcer = Announcer(ownsEventFds=False)  # all share the publication's eventfd
        self._itemsForwarded = 0 if self._child is None else self._child._itemMessagesFromChild
        path = ensureStreamDirectory() / f"{name}.sock"
        self._socket = ClaimedSocket(name, path, 0o600 if gid is None else 0o660, gid)
        self._wakeup = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)  # written once per frame for all
        try:
            producer.subscribe(self._onItemListener)
        except BaseException:
            self._socket.close()
            self._copies.close()
            os.close(self._wakeup)
            raise
        self.path = path
        if self._child is not None:
            self._child._ringWatchers.append(self._onChildRing)
        loop.add_reader(self._socket.sock.fileno(), self._accept)
        producer.onReady(self._onProducerReady)
        producer.onClose(self._onProducerClose)
        self._setReady(True)

    # -- who may attach -----------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._socket.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._log.error("accepting a program for %r failed: %s", self.name, error)
                return
            pid, uid, gid = peerCredentials(sock)
            refusal = self._refusal(pid, uid, gid)
            if refusal is not None:
                self._refused += 1
                self._log.warning("refused pid %d: %s", pid, refusal)
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    sock.send(encode(Kind.REFUSED, refusal.encode()))
                sock.close()
                continue
            program = _Program(self, sock, pid, uid)
            self._programs.append(program)
            program.start(self._loop)

    def _refusal(self, pid: int, uid: int, gid: int) -> str | None:
        if len(self._programs) >= MAX_PROGRAMS:
            return f"stream {self.name!r} has {MAX_PROGRAMS} programs attached, the most it takes"
        if uid in (os.geteuid(), 0):
            return None
        if self._group is not None and self._group in groupsOf(pid, gid):
            return None
        allowed = f"user {describeUser(os.geteuid())}" + ("" if self._group is None else f" and group {self._group}")
        return (
            f"user {describeUser(uid)} may not attach to stream {self.name!r}: it is published "
            f"for {allowed} only; the publisher can widen it with publish({self.name!r}, group=...)"
        )

    def _protocolError(self, program: _Program, what: str) -> None:
        self._log.warning("pid %d sent %s on stream %r; disconnected it", program.pid, what, self.name)
        self._forget(program)

    def _welcome(self, program: _Program) -> None:
        """A program that wants frames has its page: announce to it from now on."""
        assert program.page is not None
        if self._child is None:
            self._announcer.add(program.id, program.page, self._wakeup, self._slotsPerProgram)
            return
        for generation, ring in self._child._fromChild.rings():
            program.sendRing(generation, ring)
        self._child._sendControl(encodeProgram(Kind.DIRECT_WAKEUP, program.id), self._wakeup)
        self._child._sendControl(encodeProgram(Kind.DIRECT_PROGRAM, program.id, self._slotsPerProgram), program.page.fd)

    def _forget(self, program: _Program) -> None:
        if program in self._programs:
            self._programs.remove(program)
        if program.wantsFrames:
            if self._child is None:
                self._announcer.remove(program.id)
            else:
                self._child._sendControl(encodeProgram(Kind.DIRECT_REMOVE, program.id))
        program.close()

    def _onChildRing(self, generation: int, ring: SharedRing | None) -> None:
        for program in self._programs:
            if not program.wantsFrames:
                continue
            if ring is None:
                program.retireRing(generation)
            else:
                program.sendRing(generation, ring)

    # -- what the producer says -----------------------------------------------------------

    def _onItem(self, item: Any) -> None:
        if self.closed:
            return
        self._offered += 1
        self._times.append(time.monotonic_ns())
        if self._child is not None:
            self._fromChild(item)
            return
        found = _slotOf(item)
        if found is None and fitsInSlot(item):
            if not any(program.wantsFrames for program in self._programs):
                self._noteShape(item)
                return
            copy = self._copies.copy(item)
            if copy is None:
                return
            self._copied += 1
            self._copiedBytes += item.nbytes
            found = _slotOf(copy)
        if found is None:
            number = self._announcer.items
            self._announcer.items += 1
            self._sendItem(number, item)
            return
        frame, ring, slot = found
        self._noteShape(frame)
        self._announce(frame, ring, slot)

    def _fromChild(self, item: Any) -> None:
        """What a process producer's parent received: its frames went to the programs from
        the child already; its items are forwarded with the child's numbering."""
        assert self._child is not None
        if _slotOf(item) is not None:
            self._noteShape(item)
            self._forwardLostItems(self._child._itemMessagesFromChild)
            return
        number = self._child._itemMessagesFromChild - 1
        if number < self._itemsForwarded:
            self._rateLimitedLog.log(
                "parentSide",
                logging.ERROR,
                "%r published an item in the parent process, which attached programs of %r do not get",
                self._child,
                self.name,
            )
            return
        self._forwardLostItems(number)
        self._sendItem(number, item)
        self._itemsForwarded = number + 1

    def _forwardLostItems(self, upTo: int) -> None:
        """Items of the child numbered below ``upTo`` that could not be unpickled here:
        the programs hear of their place, so that nothing waits for them."""
        while self._itemsForwarded < upTo:
            for program in self._programs:
                program.send(encode(Kind.ITEM, encodeItem(self._itemsForwarded, None)))
            self._itemsForwarded += 1

    def _announce(self, frame: Frame, ring: SharedRing, slot: int) -> None:
        payload = encodeFrame(
            FrameHeader(
                ring.key,
                slot,
                frame.sequence,
                frame.timestamp,
                frame.writtenNs,
                frame.announcedNs,
                0,
                frame.deviceTimestamp,
                frame.dtype,
                frame.shape,
            )
        )[HEADER.size :]
        if len(payload) > MAX_PAYLOAD:
            self._rateLimitedLog.log(
                "tooManyDimensions",
                logging.ERROR,
                "a frame of shape %s cannot be published: too many dimensions",
                frame.shape,
            )
            return
        self._announcer.reap()
        for program in self._programs:
            if program.wantsFrames and not program.hasRing(ring.key):
                program.sendRing(ring.key, ring)
        self._announcer.announce(payload, frame)
        self._armReap()

    def _armReap(self) -> None:
        """Looks for given-back frames again soon, should no frame come to trigger it."""
        if self._reapTimer is not None:
            self._reapTimer.cancel()
            self._reapTimer = None
        if self._announcer.holdsAny():
            self._reapTimer = self._loop.call_later(REAP_AFTER, self._reapNow)

    def _reapNow(self) -> None:
        self._reapTimer = None
        self._announcer.reap()
        self._armReap()

    def _noteShape(self, array: Any) -> None:
        self._lastShape = (array.shape, array.dtype)  # str(dtype) would cost more than the rest

    def _sendItem(self, number: int, item: Any) -> None:
        if not self._programs:
            return
        try:
            pickled: bytes | None = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            pickled = None  # it keeps its place, so that nothing waits for it
            self._rateLimitedLog.log(
                ("unpicklable", type(item)),
                logging.ERROR,
                "cannot publish a %s on %r: it does not pickle (%r); it was dropped",
                type(item).__name__,
                self.name,
                error,
            )
        message = encode(Kind.ITEM, encodeItem(number, pickled))
        for program in self._programs:
            program.send(message)

    def _onProducerReady(self) -> None:
        if not self.closed:
            for program in self._programs:
                program.send(encodeReady(True))

    def _onProducerClose(self) -> None:
        self.close()

    # -- describing -------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """What ``rtcbot list`` and attaching programs learn of the stream (JSON-ready)."""
        producer = self._producer
        shape, dtype = (None, None) if self._lastShape is None else (list(self._lastShape[0]), str(self._lastShape[1]))
        return {
            "name": self.name,
            "kind": type(producer).__name__,
            "pid": os.getpid(),
            "uid": os.geteuid(),
            "ready": producer.ready,
            "shape": shape,
            "dtype": dtype,
            "fps": self.measuredRate(),
            "sampleRate": getattr(producer, "samplerate", None),
            "programs": sum(program.wantsFrames for program in self._programs),
            "drops": sum(program.statistics().skipped for program in self._programs if program.wantsFrames)
            + self._copies.dropped,
        }

    def measuredRate(self) -> float | None:
        """Items per second over the last few, or None before there are two."""
        if len(self._times) < 2 or self._times[-1] == self._times[0]:
            return None
        return round((len(self._times) - 1) * 1e9 / (self._times[-1] - self._times[0]), 2)

    def statistics(self) -> PublicationStatistics:
        """A snapshot of the publication's counters."""
        return PublicationStatistics(
            self.name,
            self._offered,
            tuple(program.statistics() for program in self._programs if program.wantsFrames),
            self._copied,
            self._copiedBytes,
            self._copies.dropped,
            self._refused,
        )

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stops publishing: programs are told the stream closed, the socket is removed."""
        if self.closed:
            return
        with contextlib.suppress(KeyError):
            self._producer.unsubscribe(self._onItemListener)
        if self._socket.sock.fileno() >= 0:
            self._loop.remove_reader(self._socket.sock.fileno())
        self._socket.close()
        if self._child is not None and self._onChildRing in self._child._ringWatchers:
            self._child._ringWatchers.remove(self._onChildRing)
        programs, self._programs = self._programs, []
        for program in programs:
            if program.wantsFrames and self._child is not None:
                self._child._sendControl(encodeProgram(Kind.DIRECT_REMOVE, program.id))
            if self._loop.is_closed():  # closed after its loop ended: nobody to tell
                program.close()
                continue
            task = self._loop.create_task(program.closeAfterSending(encode(Kind.CLOSE), 1.0))
            self._closing.add(task)
            task.add_done_callback(self._closingDone)
        self._copies.close()
        self._announcer.close()
        if self._reapTimer is not None:
            self._reapTimer.cancel()
        os.close(self._wakeup)
        super().close()

    def _closingDone(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        self._notifyState()

    def _isTornDown(self) -> bool:
        return self.closed and not self._closing

    def _reprDetails(self) -> list[str]:
        """Adds the name and the number of attached programs."""
        details = [repr(self.name), *super()._reprDetails()]
        if not self.closed:
            details.append(f"{len(self._programs)} programs")
        return details
