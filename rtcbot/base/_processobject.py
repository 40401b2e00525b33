"""The parent's side of an object whose work runs in a child process.

The parent starts the child once the object is constructed (in a helper thread when a
spawned or forkserver child would hold up the running loop), reads what the child sends
with ``loop.add_reader`` (no helper thread), watches the child's exit through its process
sentinel, and tears everything down in the background after ``close()``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..shm.channel import LoopChannel
from ..shm.frame import Frame
from ..shm.protocol import (
    Kind,
    MessageReader,
    decodeDropped,
    decodeReady,
    decodeRelease,
    decodeRetire,
    decodeRing,
    encode,
    encodeFrame,
    encodeRelease,
)
from ..shm.ring import SharedRing, SlotReader, SlotWriter, fitsInSlot
from ._child import ChildLink, ChildSettings, decodeError, runChild
from ._childstart import BackgroundStart
from ._childstate import ChildState
from ._errors import ChildProcessDied
from ._forksafety import keepLibraryStateAcrossFork, warnOnceIfForkingWithThreads
from ._loopbinding import LoopGone
from ._mainmodule import startingWithoutMain
from ._worker import StartsAfterInit
from .events import baseEventHandler, threadedEventHandler

#: The parent stops reading a consumer's subscription while this much is unsent.
SEND_HIGH_WATER = 4 << 20

#: Process objects whose teardown has not finished: at exit, those whose event loop has
#: gone (aiohttp's run_app closes its loop right after the shutdown handlers that call
#: ``close()``) are torn down there, waiting for their children as synchronous code may.
_notTornDown: weakref.WeakSet[ProcessObject] = weakref.WeakSet()
_exitHookLock = threading.Lock()
_exitHookInstalled = False


def _tearDownAtExit() -> None:
    for obj in list(_notTornDown):
        obj._finishWithoutLoop()


def _tearDownAtExitLater(obj: ProcessObject) -> None:
    global _exitHookInstalled
    with _exitHookLock:
        if not _exitHookInstalled:
            atexit.register(_tearDownAtExit)
            _exitHookInstalled = True
        _notTornDown.add(obj)


@dataclass(frozen=True)
class TransportStatistics:
    """Counters of one direction of a process object's transport."""

    frames: int
    """Arrays that went through shared-memory slots."""
    items: int
    """Other items, pickled."""
    dropped: dict[str, int]
    """Items lost, by cause: ``slotsFull`` (every slot held by the reader), ``unpicklable``
    (could not be sent), ``tooLarge`` (an array over 1 GiB), ``undecodable`` (could not be
    unpickled here)."""
    slotsInUse: int
    """Slots whose frames the reading side still holds."""
    slotsHeldByPrograms: int
    """Slots whose frames programs attached to a publication of the object hold (as the
    child last said)."""
    peakSlotsInUse: int
    slotCount: int
    """Slots per ring."""


class ProcessObject(threadedEventHandler, metaclass=StartsAfterInit):
    """Parent-side machinery shared by the three process classes."""

    #: Attributes a subclass keeps in the parent only (listeners, parent-side state):
    #: they are not sent to the child.
    _parentOnly: ClassVar[frozenset[str]] = frozenset()
    #: A child not ready this many seconds after it started is reported (a warning).
    _readyWarningAfter: ClassVar[float] = 10.0

    def _initHandler(self, logger: logging.Logger | None, loop: asyncio.AbstractEventLoop | None) -> set[str]:
        """Starts construction; returns the names of attributes the subclass set before it."""
        userNames = set(self.__dict__)
        baseEventHandler.__init__(self, logger)
        self._initLoopBinding(loop)
        return userNames

    def _initProcess(
        self,
        userNames: set[str],
        workMethod: str,
        daemonProcess: bool,
        joinTimeout: float,
        slotCount: int,
        startMethod: str | None,
    ) -> None:
        if slotCount < 1:
            raise ValueError(f"slotCount must be at least 1, got {slotCount}")
        if joinTimeout < 0:
            raise ValueError(f"joinTimeout must not be negative, got {joinTimeout}")
        name = type(self).__name__
        self._context: Any = multiprocessing.get_context(startMethod)
        self._daemonProcess = daemonProcess
        self._joinTimeout = joinTimeout
        self._slotCount = slotCount
        self._settings = ChildSettings(workMethod, slotCount, f"{name}-from-child")
        parentSocket, self._childSocket = socket.socketpair()
        self._channel = LoopChannel(parentSocket, self._onChildMessage)
        self._fromChild = SlotReader(self._releaseToChild)
        self._toChild = SlotWriter(slotCount, f"{name}-to-child", self._channel.send)
        self._process: Any = None
        self._starting: BackgroundStart | None = None  # set while a child starts in a thread
        self._attachedLoop: asyncio.AbstractEventLoop | None = None
        self._escalation: asyncio.TimerHandle | None = None
        self._readyWatch: asyncio.TimerHandle | None = None
        self._feeder: asyncio.Task[None] | None = None
        self._slotFreed: asyncio.Event | None = None  # consumers: set when the child gives a slot back
        self._childExited = False
        self._tornDown = False
        self._framesFromChild = 0
        self._itemsFromChild = 0
        self._itemMessagesFromChild = 0  # decodable or not: the numbering of the child's items
        self._slotsHeldByPrograms = 0
        self._childDroppedSlotsFull = 0
        self._undecodable = 0
        self._framesToChild = 0
        self._itemsToChild = 0
        self._unpicklable = 0
        self._tooLarge = 0
        self._peakSlotsHeldByChild = 0
        self._toChildSequence = 0
        self._ringWatchers: list[Callable[[int, SharedRing | None], None]] = []  # publications
        self._machineryNames = (frozenset(self.__dict__) - userNames) | {"_machineryNames"}

    # -- starting -----------------------------------------------------------------------

    def _afterInit(self) -> None:
        try:
            self._startChild()
        except BaseException:
            self._childSocket.close()
            self._channel.close()
            raise
        _tearDownAtExitLater(self)
        self._loopBinding.whenBound(self._attach)

    def _userState(self) -> dict[str, Any]:
        skip = self._machineryNames | self._parentOnly
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def _startChild(self) -> None:
        startMethod = self._context.get_start_method()
        state = ChildState(type(self), self._userState(), startMethod)
        state.checkClass()
        settings = self._settings
        if startMethod == "forkserver":  # its children would get the forkserver's environment
            settings = dataclasses.replace(settings, environment=dict(os.environ))
        self._process = self._context.Process(
            target=runChild,
            args=(state, settings, self._childSocket),
            daemon=self._daemonProcess,
            name=f"rtcbot-{type(self).__name__}",
        )
        if self._loopBinding.inLoopThread() and startMethod != "fork":
            self._starting = BackgroundStart(self._process, state, self._startedInBackground)
            self._starting.begin()
            return
        if startMethod == "fork":
            keepLibraryStateAcrossFork()
            warnOnceIfForkingWithThreads(type(self).__name__)
            self._process.start()
        else:
            with startingWithoutMain(type(self)):
                self._process.start()
        self._childSocket.close()

    def _startedInBackground(self, error: BaseException | None) -> None:
        """From the starting thread: the child runs (or could not start)."""
        with contextlib.suppress(LoopGone):  # the exit hook ends the child (``_finishWithoutLoop``)
            self._loopBinding.call(self._childStarted, error)

    def _childStarted(self, error: BaseException | None) -> None:
        self._starting = None
        self._childSocket.close()
        if error is not None:
            self._childExited = True
            baseEventHandler._setError(self, error)
            self._teardown()
            return
        self._attach()
        if self.closed:
            self._stopChild()

    def _attach(self) -> None:
        loop = self._loopBinding.loop
        if loop is None or self._tornDown or self._starting is not None or self._attachedLoop is not None:
            return
        self._attachedLoop = loop
        self._channel.attach(loop)
        self._channel.send(encode(Kind.LISTENING))
        loop.add_reader(self._process.sentinel, self._onChildExit)
        self._readyWatch = loop.call_later(self._readyWarningAfter, self._warnIfNotReady)
        self._startFeeding(loop)

    def _warnIfNotReady(self) -> None:
        if not self.ready and not self.closed:
            self._log.warning(
                "%s is not ready %g s after its child process (pid %d) started: its work method has "
                "not called self._setReady(True). Is it stuck, e.g. opening a device?",
                type(self).__name__,
                self._readyWarningAfter,
                self._process.pid,
            )

    def _startFeeding(self, loop: asyncio.AbstractEventLoop) -> None:
        """Consumers start sending their subscription to the child here."""

    # -- what the child says ----------------------------------------------------------------

    def _onChildMessage(self, kind: Kind, payload: bytes, reader: MessageReader) -> None:
        """Handles one control message from the child; the producing classes handle data
        (``FRAME``, ``ITEM``) before this."""
        if kind is Kind.RELEASE:
            self._toChild.release(*decodeRelease(payload))
            if self._slotFreed is not None:
                self._slotFreed.set()
        elif kind is Kind.NEW_RING:
            info = decodeRing(payload)
            self._fromChild.addRing(info, reader.takeFd())
            for watcher in self._ringWatchers:
                watcher(info.generation, self._fromChild.ring(info.generation))
        elif kind is Kind.RETIRE_RING:
            generation = decodeRetire(payload)
            self._fromChild.retire(generation)
            for watcher in self._ringWatchers:
                watcher(generation, None)
        elif kind is Kind.READY:
            baseEventHandler._setReady(self, decodeReady(payload))
        elif kind is Kind.ERROR:
            baseEventHandler._setError(self, decodeError(payload))
        elif kind is Kind.DROPPED:
            self._childDroppedSlotsFull = decodeDropped(payload)
        elif kind is Kind.PROGRAM_SLOTS:
            self._slotsHeldByPrograms = decodeDropped(payload)  # the same encoding: a count
        elif kind is Kind.CLOSE:
            self.close()
        elif kind is Kind.NOTICE:
            self._receiveNotice(payload)
        else:
            self._rateLimitedLog.log(
                ("unexpected", kind),
                logging.ERROR,
                "the child of %s sent %s, which this class does not take (a consumer's child "
                "cannot publish: use ProcessSubscriptionProducerConsumer to get data back)",
                type(self).__name__,
                kind.name,
            )

    def _unpickleFromChild(self, payload: bytes, what: str) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, None)`` after counting and logging the failure."""
        try:
            return True, pickle.loads(payload)
        except Exception as exc:
            self._undecodable += 1
            self._rateLimitedLog.log("undecodable", logging.ERROR, "cannot unpickle %s from the child: %r", what, exc)
            return False, None

    def _receiveNotice(self, payload: bytes) -> None:
        decoded, notice = self._unpickleFromChild(payload, "a notice")
        if decoded:
            self._onChildNotice(notice)

    def _onChildNotice(self, notice: Any) -> None:
        """Override (in the parent) to act on what the child sends with ``_notify``."""
        self._log.debug("notice from the child, unhandled: %r", notice)

    def _notify(self, notice: Any) -> None:
        """In the child: sends a status report (anything picklable; not data, so it reaches
        no subscriber) to the parent's ``_onChildNotice``, in order with the data."""
        self._inChild("_notify").notify(notice)

    def _sleep(self, seconds: float) -> bool:
        """In the child: sleeps up to ``seconds``, waking early when the object is asked to
        close. Returns True if it was."""
        return self._inChild("_sleep").sleep(seconds)

    def _sendControl(self, message: bytes, fd: int | None = None) -> None:
        """Sends the child a message of the transport (e.g. about attached programs)."""
        self._channel.send(message, fd)

    def _releaseToChild(self, generation: int, slot: int) -> None:
        try:  # noqa: SIM105  once per frame: a try costs nothing, suppress() 0.4 µs
            self._loopBinding.call(self._channel.sendSoon, encodeRelease(generation, slot))
        except LoopGone:
            pass

    def _onChildExit(self) -> None:
        if self._attachedLoop is not None:
            self._attachedLoop.remove_reader(self._process.sentinel)
        self._channel.receiveAvailable(maxReads=0)  # everything the child sent before it ended
        self._reapChild()

    def _reapChild(self) -> None:
        """Collects the exit status; the sentinel can fire a moment before it is ready."""
        self._process.join(0)
        exitcode = self._process.exitcode
        if exitcode is None:
            assert self._attachedLoop is not None
            self._attachedLoop.call_later(0.001, self._reapChild)
            return
        self._childExited = True
        if not self.closed:
            if exitcode:
                baseEventHandler._setError(self, self._deathError(exitcode))
            else:
                self._childReturned()
        self._teardown()

    def _childReturned(self) -> None:
        """The work method returned (its child exited cleanly) before the parent closed."""
        self.close()

    def _deathError(self, exitcode: int) -> ChildProcessDied:
        who = f"the child process of {type(self).__name__} (pid {self._process.pid})"
        if exitcode < 0:
            return ChildProcessDied(f"{who} was killed by signal {signal.Signals(-exitcode).name}", exitcode)
        return ChildProcessDied(f"{who} exited with code {exitcode}", exitcode)

    # -- sending to the child -------------------------------------------------------------

    def _sendToChild(self, item: Any) -> None:
        """Sends one item to the child: arrays through slots (one is free: the feeder waited
        for it), anything else pickled."""
        if fitsInSlot(item):
            try:
                claim = self._toChild.claim(item.shape, item.dtype)
            except ValueError as error:
                self._tooLarge += 1
                self._rateLimitedLog.log("tooLarge", logging.ERROR, "dropped an array for the child: %s", error)
                return
            assert claim is not None, "the feeder waits for a free slot before sending"
            np.copyto(claim.array, item, casting="no")
            isFrame = isinstance(item, Frame)
            header = self._toChild.header(
                claim,
                item.sequence if isFrame else self._toChildSequence,
                item.timestamp if isFrame else time.monotonic_ns(),
                time.monotonic_ns(),
                item.deviceTimestamp if isFrame else None,
            )
            self._toChildSequence += 1
            self._framesToChild += 1
            self._peakSlotsHeldByChild = max(self._peakSlotsHeldByChild, self._toChild.slotsHeld)
            self._channel.send(encodeFrame(header))
            return
        try:
            data = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self._unpicklable += 1
            self._rateLimitedLog.log(
                ("unpicklable", type(item)),
                logging.ERROR,
                "cannot send %s to the child process: it does not pickle (%r); it was dropped",
                type(item).__name__,
                exc,
            )
            return
        self._itemsToChild += 1
        self._channel.send(encode(Kind.ITEM, data))

    # -- closing --------------------------------------------------------------------------

    def _stopChild(self) -> None:
        """Asks the child to stop; escalates to SIGTERM, then SIGKILL, ``joinTimeout`` apart."""
        if self._childExited:
            self._teardown()
            return
        if self._starting is not None:
            return  # asked again once the child runs (``_childStarted``)
        self._channel.send(encode(Kind.CLOSE))
        loop = self._attachedLoop
        if loop is not None and not loop.is_closed():
            self._escalation = loop.call_later(self._joinTimeout, self._terminateChild)
            return
        self._waitForChild()

    def _waitForChild(self) -> None:
        """Waits for the child (asked to stop) to end, escalating, then tears down. Only
        where no event loop runs: synchronous code, which may wait."""
        if self._starting is not None:
            startError = self._starting.wait()
            self._starting = None
            self._childSocket.close()
            if startError is not None:
                self._childExited = True
                self._teardown()
                return
        self._process.join(self._joinTimeout)
        for stop in (self._process.terminate, self._process.kill):
            if self._process.exitcode is None:
                stop()
                self._process.join(self._joinTimeout)
        self._childExited = True
        self._teardown()

    def _finishWithoutLoop(self) -> None:
        """At exit: an object whose loop has closed (or never ran) before its teardown
        ends its child and closes its sockets here; one whose loop runs is left alone."""
        loop = self._attachedLoop
        if self._tornDown or (loop is not None and not loop.is_closed()):
            return
        if not self._childExited:
            with contextlib.suppress(OSError):
                self._channel.send(encode(Kind.CLOSE))
        self._waitForChild()

    def _terminateChild(self) -> None:
        if self._process.exitcode is None and not self._childExited:
            self._log.warning("child did not stop within %.1f s; terminating it", self._joinTimeout)
            self._process.terminate()
            assert self._attachedLoop is not None
            self._escalation = self._attachedLoop.call_later(self._joinTimeout, self._process.kill)

    def _teardown(self) -> None:
        if self._tornDown:
            return
        self._tornDown = True
        _notTornDown.discard(self)
        if self._escalation is not None:
            self._escalation.cancel()
        if self._readyWatch is not None:
            self._readyWatch.cancel()
        if self._feeder is not None:
            with contextlib.suppress(RuntimeError):  # its loop may have closed
                self._feeder.cancel()
        self._channel.close()
        self._fromChild.close()
        self._toChild.close()
        self._process.close()
        self._notifyState()

    def _isTornDown(self) -> bool:
        return self.closed and self._tornDown

    # -- statistics -------------------------------------------------------------------------

    def _fromChildStatistics(self) -> TransportStatistics:
        return TransportStatistics(
            frames=self._framesFromChild,
            items=self._itemsFromChild,
            dropped={"slotsFull": self._childDroppedSlotsFull, "undecodable": self._undecodable},
            slotsInUse=self._fromChild.inUse,
            slotsHeldByPrograms=self._slotsHeldByPrograms,
            peakSlotsInUse=self._fromChild.peakInUse,
            slotCount=self._slotCount,
        )

    def _toChildStatistics(self) -> TransportStatistics:
        return TransportStatistics(
            frames=self._framesToChild,
            items=self._itemsToChild,
            dropped={
                "slotsFull": self._toChild.droppedSlotsFull,
                "unpicklable": self._unpicklable,
                "tooLarge": self._tooLarge,
            },
            slotsInUse=self._toChild.slotsHeld,
            slotsHeldByPrograms=0,
            peakSlotsInUse=self._peakSlotsHeldByChild,
            slotCount=self._slotCount,
        )

    # -- the child's side ---------------------------------------------------------------------

    @property
    def _shouldClose(self) -> bool:
        """In the child: whether the parent asked to stop. In the parent: whether closing."""
        link = self._childLink
        if link is not None:
            return link.shouldClose()
        closing: bool = self.__dict__.get("_closing", False)
        return closing

    @_shouldClose.setter
    def _shouldClose(self, value: bool) -> None:
        self.__dict__["_closing"] = value

    def _setReady(self, value: bool = True) -> None:
        """Sets the ready state; from the child it reaches the parent."""
        link = self._childLink
        if link is not None:
            link.setReady(value)
        else:
            super()._setReady(value)

    def _setError(self, value: BaseException | None) -> None:
        """Reports an error; from the child it reaches the parent, which then closes."""
        link = self._childLink
        if link is None:
            super()._setError(value)
        elif value is not None:
            if not isinstance(value, BaseException):
                raise TypeError(f"_setError() needs an exception instance, got {value!r}")
            link.setError(value)

    def _close(self) -> None:
        """Closes; from the child it asks the parent to close the object."""
        link = self._childLink
        if link is not None:
            link.requestClose()
        else:
            self.close()

    def _closeSides(self) -> None:
        """Closes the producer and/or consumer side (set by each class)."""
        raise NotImplementedError

    def close(self) -> None:
        """Closes at once and stops the child in the background; ``await obj`` waits for it.

        The child is asked to stop, then terminated after ``joinTimeout`` seconds, then
        killed after as long again. Never blocks the event loop.
        """
        if self._childLink is not None:
            self._childLink.requestClose()
            return
        self._runInLoop(self._closeNow)

    def _closeNow(self) -> None:
        if self.closed:
            return
        self._closeSides()
        baseEventHandler.close(self)
        self._stopChild()

    @property
    def _childLink(self) -> ChildLink | None:
        """The transport inside the child; None in the parent."""
        link: ChildLink | None = self.__dict__.get("_childLinkInstance")
        return link

    def _inChild(self, method: str) -> ChildLink:
        """The child's link, for a method that works only there; a RuntimeError in the parent."""
        link = self._childLink
        if link is None:
            raise RuntimeError(
                f"{type(self).__name__}.{method}() works inside the child process only, i.e. in "
                "the work method (_producer, _consumer or _producerConsumer)"
            )
        return link

    def _reprDetails(self) -> list[str]:
        """Puts the child's pid first while there is a child process to name (``starting``
        while it starts in the background)."""
        details = super()._reprDetails()
        if self._starting is not None:
            return ["starting", *details]
        try:
            pid = self._process.pid
        except (AttributeError, ValueError):  # not built yet; a closed Process refuses
            pid = None
        return details if pid is None else [f"pid={pid}", *details]
