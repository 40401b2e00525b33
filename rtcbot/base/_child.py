"""What runs inside a child process: its entry point and its end of the transport.

The child gets the object's class and user attributes (never the parent's event loop,
listeners or sockets), rebuilds the object around a :class:`ChildLink`, and runs the
work method (``_producer``, ``_consumer`` or ``_producerConsumer``). Everything the
child says to its parent (data, ready, errors, close) goes through the link, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import os
import pickle
import signal
import socket
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._ratelimit import RateLimitedLog
from ..shm.announcements import AnnouncementPage
from ..shm.announcer import Announcer
from ..shm.channel import BlockingChannel
from ..shm.protocol import (
    HEADER,
    Kind,
    decodeFrame,
    decodeProgram,
    decodeRelease,
    decodeRetire,
    decodeRing,
    encode,
    encodeDropped,
    encodeFrame,
    encodeProgramSlots,
    encodeReady,
    encodeRelease,
)
from ..shm.ring import Claim, SlotReader, SlotWriter, fitsInSlot
from ._childstate import ChildState
from ._errors import ConsumerClosed, RemoteError, RemoteTraceback, SubscriptionClosed

#: While waiting for a free slot and attached programs hold some, the child looks for
#: given-back ones this often (programs give frames back without a message).
_PROGRAM_POLL = 0.005
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15

#: A producer's child that has dropped frames this long because no event loop of the parent
#: reads them yet says once what to do (a program's imports before its loop runs take less).
NO_LOOP_WARNING_AFTER = 5.0
#: Once the parent's loop runs, frames dropped this long before it gives a slot back are
#: the backlog of before the loop (counted, not warned about).
CATCHING_UP = 1.0


@dataclass(frozen=True)
class ChildSettings:
    """What the child needs besides the object: its work method and transport sizes."""

    workMethod: str
    slotCount: int
    label: str
    environment: dict[str, str] | None = None
    """The parent's environment, for a child of the forkserver: it would otherwise get the
    forkserver's, as it was when that started (without a later ``PULSE_SERVER``, say)."""


class internalSubscriptionMessage:
    """A message between a process object's two halves: its ``type`` (a protocol
    :class:`~rtcbot.shm.protocol.Kind`) and its encoded ``value``."""

    __slots__ = ("type", "value")

    def __init__(self, type: Kind, value: bytes) -> None:
        self.type = type
        self.value = value


internalSubscriptionMessage.__module__ = "rtcbot.base.multiprocess"


class ChildLink:
    """The child's side of the transport, used by the object's methods inside the child."""

    def __init__(self, channel: BlockingChannel, settings: ChildSettings, log: logging.Logger) -> None:
        self._channel = channel
        self._log = RateLimitedLog(log)
        self._writer = SlotWriter(settings.slotCount, settings.label, channel.send, prefault=True)
        self._reader = SlotReader(self._sendRelease)
        self._inbox: deque[internalSubscriptionMessage] = deque()
        self._claims: dict[int, Claim] = {}
        self._frameSequence = 0
        self._reportedDrops = 0
        self._lastDropReport = 0.0
        self.closeRequested = False
        self._parentListening = False  # until the parent's event loop reads our socket
        self._listeningSince = 0.0
        self._caughtUp = False  # the parent has given a slot back since it listens
        self._firstDropWithoutLoop: float | None = None  # None again once warned
        self._warnedNoLoop = False
        # programs attached to a publication of this object, announced to from here
        self._announcer = Announcer(ownsEventFds=True)
        self._wakeups: dict[int, int] = {}  # program -> eventfd, until its page comes
        self._heldByPrograms: dict[tuple[int, int], int] = {}  # slot -> programs holding it
        self._releasedByParent: set[tuple[int, int]] = set()  # ...that the parent gave back
        self._reportedProgramSlots = 0

    # -- receiving ------------------------------------------------------------------------

    def _pump(self, block: bool, timeout: float | None = None, forSlot: bool = False) -> None:
        if forSlot and self._heldByPrograms and (timeout is None or timeout > _PROGRAM_POLL):
            timeout = _PROGRAM_POLL
        for kind, payload in self._channel.receive(block, timeout):
            self._handle(kind, payload)
        if self._channel.ended:
            self.closeRequested = True  # the parent is gone
        if self._heldByPrograms:
            self._slotsBack(self._announcer.reap())

    def _handle(self, kind: Kind, payload: bytes) -> None:
        if kind is Kind.RELEASE:
            self._caughtUp = self._parentListening
            slot = decodeRelease(payload)
            if slot in self._heldByPrograms:
                self._releasedByParent.add(slot)
            else:
                self._writer.release(*slot)
        elif kind is Kind.DIRECT_WAKEUP:
            self._wakeups[decodeProgram(payload)[0]] = self._channel.reader.takeFd()
        elif kind is Kind.DIRECT_PROGRAM:
            program, limit = decodeProgram(payload)
            page = AnnouncementPage("", fd=self._channel.reader.takeFd())
            self._announcer.add(program, page, self._wakeups.pop(program), limit)
        elif kind is Kind.DIRECT_REMOVE:
            self._slotsBack(self._announcer.remove(decodeProgram(payload)[0]))
            self._channel.send(self._programSlotsReport())
        elif kind is Kind.NEW_RING:
            self._reader.addRing(decodeRing(payload), self._channel.reader.takeFd())
        elif kind is Kind.RETIRE_RING:
            self._reader.retire(decodeRetire(payload))
        elif kind is Kind.CLOSE:
            self.closeRequested = True
        elif kind is Kind.LISTENING:
            self._parentListening = True
            self._listeningSince = time.monotonic()
        else:
            self._inbox.append(internalSubscriptionMessage(kind, payload))

    def shouldClose(self) -> bool:
        self._pump(block=False)
        return self.closeRequested

    def sleep(self, seconds: float) -> bool:
        """Waits up to ``seconds``, handling messages meanwhile; True as soon as close is asked."""
        deadline = time.monotonic() + seconds
        self._pump(block=False)
        while not self.closeRequested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._pump(block=True, timeout=remaining)
        return self.closeRequested

    def get(self, timeout: float | None = None) -> Any:
        """The next item from the parent; blocks without spinning (at most ``timeout``
        seconds, then ``TimeoutError``); ConsumerClosed on close."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.closeRequested:
                raise ConsumerClosed("the parent closed this object")
            if self._inbox:
                return self._decode(self._inbox.popleft())
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"nothing arrived from the parent within {timeout} s")
            self._pump(block=True, timeout=remaining)

    def getLatest(self, timeout: float | None = None) -> Any:
        """Like :meth:`get`, but skips to the newest item that has arrived (older ones are
        discarded, their slots given back)."""
        item = self.get(timeout)
        self._pump(block=False)
        while self._inbox and not self.closeRequested:
            item = None  # let a skipped frame's slot go before decoding the next
            item = self._decode(self._inbox.popleft())
        return item

    def _decode(self, message: internalSubscriptionMessage) -> Any:
        if message.type is Kind.FRAME:
            return self._reader.frame(decodeFrame(message.value), time.monotonic_ns())
        return pickle.loads(message.value)

    def _programSlotsReport(self) -> bytes:
        """A PROGRAM_SLOTS message if the count changed since the last one, else nothing."""
        count = len(self._heldByPrograms)
        if count == self._reportedProgramSlots:
            return b""
        self._reportedProgramSlots = count
        return encodeProgramSlots(count)

    def _slotsBack(self, holds: list[Any]) -> None:
        """Programs gave these slots back: free once the parent has, too."""
        for slot in holds:
            remaining = self._heldByPrograms[slot] - 1
            if remaining:
                self._heldByPrograms[slot] = remaining
                continue
            del self._heldByPrograms[slot]
            if slot in self._releasedByParent:
                self._releasedByParent.discard(slot)
                self._writer.release(*slot)

    # -- sending --------------------------------------------------------------------------

    def _sendRelease(self, generation: int, slot: int) -> None:
        try:  # noqa: SIM105  once per frame: a try costs nothing, suppress() 0.4 µs
            self._channel.send(encodeRelease(generation, slot))
        except OSError:
            pass  # the parent is gone

    def claimFrame(self, shape: tuple[int, ...], dtype: Any, wait: float = 0.0) -> np.ndarray[Any, Any] | None:
        """A writable array in a free slot, to fill and then pass to ``put``. When every slot
        is held, waits up to ``wait`` seconds (``math.inf``: until one comes back or the
        object closes) for one; None (a dropped frame, counted) if none came back."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        deadline = time.monotonic() + wait
        self._pump(block=False)
        while True:
            remaining = deadline - time.monotonic()
            giveUp = remaining <= 0 or self.closeRequested
            claim = self._writer.claim(shape, dtype, countDrop=giveUp)
            if claim is not None:
                self._claims[id(claim.array)] = claim
                return claim.array
            if giveUp:
                self._dropped()
                return None
            self._pump(block=True, timeout=None if math.isinf(remaining) else remaining, forSlot=True)

    def unclaimFrame(self, array: np.ndarray[Any, Any]) -> None:
        """Gives back a slot from :meth:`claimFrame` that will not be sent."""
        claim = self._claims.get(id(array))
        if claim is None or claim.array is not array:
            raise ValueError("this array is not a claimed, unsent frame of this object")
        del self._claims[id(array)]
        self._writer.unclaim(claim)

    def put(self, element: Any, timestamp: int | None, deviceTimestamp: float | None) -> None:
        """Sends ``element`` to the parent: arrays through slots, anything else pickled."""
        captured = time.monotonic_ns() if timestamp is None else timestamp
        claim = self._claims.pop(id(element), None) if isinstance(element, np.ndarray) else None
        if claim is not None and claim.array is not element:
            self._claims[id(claim.array)] = claim
            claim = None
        copied = claim is None and fitsInSlot(element)
        if copied:
            # The slots given back since the last frame first: the one given back last is
            # written again, while its memory is still in the caches.
            self._pump(block=False)
            claim = self._writer.claim(element.shape, element.dtype)
            if claim is None:
                self._dropped()
                return
            np.copyto(claim.array, element, casting="no")
        if claim is not None:
            header = self._writer.header(claim, self._frameSequence, captured, time.monotonic_ns(), deviceTimestamp)
            self._frameSequence += 1
            message = encodeFrame(header)
            if self._announcer:  # the attached programs first: they need not wait for the parent
                if self._heldByPrograms:
                    self._slotsBack(self._announcer.reap())
                slot = (claim.generation, claim.slot)
                announced = self._announcer.announce(message[HEADER.size :], slot)
                if announced:
                    self._heldByPrograms[slot] = self._heldByPrograms.get(slot, 0) + announced
                message += self._programSlotsReport()  # in the same system call
            self._channel.send(message)
            return
        data = _pickleForParent(element)
        self._reportDrops()
        self._announcer.items += 1
        self._channel.send(encode(Kind.ITEM, data))

    def _dropped(self) -> None:
        """Counts a frame lost to full slots. The parent hears the count with the next frame or
        item, and every 20 ms while frames keep being dropped."""
        self._frameSequence += 1
        now = time.monotonic()
        if now - self._lastDropReport >= 0.02:
            self._lastDropReport = now
            self._reportDrops()
        if not self._parentListening:
            if self._firstDropWithoutLoop is None:
                self._firstDropWithoutLoop = now
            if not self._warnedNoLoop and now - self._firstDropWithoutLoop >= NO_LOOP_WARNING_AFTER:
                self._warnedNoLoop = True
                self._log.log(
                    "noLoop",
                    logging.WARNING,
                    "dropping frames: no event loop of the parent process reads them yet, and its "
                    "%d slots hold the first ones. Run an event loop in the thread that made the "
                    "object (asyncio.run(), loop.run_forever(), web.run_app()) or pass loop=; "
                    "frames flow once it runs.",
                    self._writer.slotsHeld,
                )
            return
        if not self._caughtUp and now - self._listeningSince < CATCHING_UP:
            return  # the parent is reading the frames it was sent before its loop ran
        self._log.log(
            "dropped",
            logging.WARNING,
            "dropped a frame: all %d slots hold frames the parent process still uses "
            "(%d dropped so far). Either a subscriber keeps frames alive (copy() the ones you "
            "keep), or the parent's event loop is blocked or stopped and cannot release them.",
            self._writer.slotsHeld,
            self._writer.droppedSlotsFull,
        )

    def _reportDrops(self) -> None:
        if self._writer.droppedSlotsFull != self._reportedDrops:
            self._reportedDrops = self._writer.droppedSlotsFull
            self._channel.send(encodeDropped(self._reportedDrops))

    def notify(self, value: Any) -> None:
        """Sends a status report (not data) to the parent's ``_onChildNotice``."""
        self._channel.send(encode(Kind.NOTICE, _pickleForParent(value)))

    def setReady(self, value: bool) -> None:
        self._channel.send(encodeReady(value))

    def setError(self, error: BaseException) -> None:
        self._channel.send(encode(Kind.ERROR, encodeError(error)))

    def requestClose(self) -> None:
        self.closeRequested = True
        self._channel.send(encode(Kind.CLOSE))

    def finish(self) -> None:
        """Sends the last drop count and closes the link (the parent sees the child exit)."""
        with contextlib.suppress(OSError):
            self._reportDrops()
        self._announcer.close()
        for eventFd in self._wakeups.values():
            os.close(eventFd)
        self._writer.close()
        self._reader.close()
        self._channel.close()


def _pickleForParent(element: Any) -> bytes:
    try:
        return pickle.dumps(element, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise TypeError(
            f"cannot send {type(element).__name__} {element!r:.80} to the parent process: "
            f"it does not pickle ({exc}). Send arrays, or picklable objects."
        ) from exc


def encodeError(error: BaseException) -> bytes:
    """An exception as bytes: pickled if possible, always with type, message and traceback."""
    text = "".join(traceback.format_exception(error))
    typeName = f"{type(error).__module__}.{type(error).__qualname__}"
    try:
        pickled: bytes | None = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
    except Exception:
        pickled = None
    return pickle.dumps((pickled, typeName, str(error), text))


def decodeError(payload: bytes) -> BaseException:
    """The exception a child reported, with its traceback text as ``__cause__``."""
    pickled, typeName, message, text = pickle.loads(payload)
    error: BaseException | None = None
    if pickled is not None:
        try:
            error = pickle.loads(pickled)
        except Exception:
            error = None
    if not isinstance(error, BaseException):
        error = RemoteError(f"{typeName}: {message}")
    error.__cause__ = RemoteTraceback(f'\n"""\n{text}"""')
    return error


def _becomeChild(name: str) -> None:
    """Process-wide setup of a fresh child: die with the parent, leave Ctrl-C to it, and
    show the object's class as the process name (in ps, top and the profiler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]))
    if os.getppid() == 1:  # the parent died before we could ask to follow it
        os._exit(0)
    if sys.version_info < (3, 12):
        # A forked child still has the parent's loop as this thread's current loop, so
        # get_event_loop() would hand it that copy; 3.12 and newer forget it at fork.
        # (The running loop is per process on every version.)
        asyncio.set_event_loop(None)


def runChild(state: ChildState, settings: ChildSettings, sock: socket.socket) -> None:
    """The child process's entry point: rebuilds the object around its link, runs the
    work method, and reports how it ended."""
    if settings.environment is not None:
        os.environ.clear()
        os.environ.update(settings.environment)
    _becomeChild(state.cls.__name__)
    log = logging.getLogger("rtcbot").getChild(state.cls.__name__)
    link = ChildLink(BlockingChannel(sock), settings, log)
    try:
        obj = object.__new__(state.cls)
        obj.__dict__.update(state.attributes())
        obj.__dict__["_log"] = log
        obj.__dict__["_childLinkInstance"] = link
        getattr(obj, settings.workMethod)()
    except SubscriptionClosed:
        pass
    except SystemExit as exit:
        if exit.code not in (None, 0):
            _report(link, exit)
    except BaseException as error:
        if not link.closeRequested or not isinstance(error, BrokenPipeError | ConnectionError):
            _report(link, error)
    finally:
        link.finish()


def _report(link: ChildLink, error: BaseException) -> None:
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        link.setError(error)
