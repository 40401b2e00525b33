"""Gamepads, mice and keyboards plugged into this machine, as producers of RTCBot's event
dicts: ``{"timestamp": 1552629513.7494, "code": "BTN_SOUTH", "state": 1, "event": "Key"}``.

Each device is read in a child process from its Linux event device (/dev/input/eventN),
record by record (``struct input_event``), with no library needed. Reading a keyboard or
mouse usually needs the ``input`` group (``sudo usermod -aG input $USER``)."""

from __future__ import annotations

import asyncio
import errno
import os
import select
import struct
from collections.abc import Callable
from typing import Any, ClassVar

from ._inputcodes import CODE_NAMES, TYPE_NAMES
from ._inputdevices import NoInputDevice, findInputDevice
from .base import ProcessSubscriptionProducer

__all__ = ["Gamepad", "InputDevice", "Keyboard", "Mouse", "NoInputDevice", "defaultFilter"]

#: ``struct input_event`` as this machine's kernel writes it: time (seconds, microseconds), type, code, value.
EVENT_RECORD = struct.Struct("@llHHi")
#: How often a device that went away is looked for again, and how long a read waits before checking for close.
REOPEN_INTERVAL = 0.25
POLL_INTERVAL = 0.05

Event = dict[str, Any]


def defaultFilter(event: Event) -> bool:
    """RTCBot's default: every event but the end-of-report markers (``SYN_REPORT``)."""
    return bool(event["code"] != "SYN_REPORT")


def describeEvent(record: bytes) -> Event:
    """RTCBot's dict for one ``struct input_event``."""
    seconds, microseconds, eventType, code, value = EVENT_RECORD.unpack(record)
    return {
        "timestamp": seconds + microseconds / 1e6,
        "code": CODE_NAMES.get((eventType, code), f"{TYPE_NAMES.get(eventType, 'EV')}_{code:#x}"),
        "state": value,
        "event": TYPE_NAMES.get(eventType, f"{eventType:#x}"),
    }


def _openDevice(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except PermissionError:
        raise PermissionError(
            f"no permission to read {path}; add your user to the 'input' group "
            "(sudo usermod -aG input $USER, then log in again), or run as root"
        ) from None


class InputDevice(ProcessSubscriptionProducer[Event]):
    """Events of the input device at ``device`` (a /dev/input/eventN path) that pass
    ``eventFilter`` (run in this process, so it may be any callable, a lambda too).

    A device that is unplugged is logged, and read again once it is back (found again by
    kind when no path was given). Ready while it is being read.
    """

    _parentOnly: ClassVar[frozenset[str]] = frozenset({"_eventFilter"})
    _kind: ClassVar[str | None] = None
    _foundByKind = False  # True: found by kind, so looked for by kind again once unplugged

    def __init__(
        self,
        device: str,
        eventFilter: Callable[[Event], bool] = defaultFilter,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not callable(eventFilter):
            raise TypeError(f"eventFilter must be a function of one event dict, got {eventFilter!r}")
        os.close(_openDevice(device))  # a wrong path or missing permission is said here, now
        self._device = device
        self._eventFilter = eventFilter
        super().__init__(asyncio.Queue, loop=loop, joinTimeout=0.5)

    def _acceptFromChild(self, item: Any) -> bool:
        return bool(self._eventFilter(item))

    def _onChildNotice(self, notice: Any) -> None:
        self._log.warning("%s", notice)

    def _reprDetails(self) -> list[str]:
        return [*super()._reprDetails(), self._device]

    def _producer(self) -> None:
        fd: int | None = _openDevice(self._device)
        while fd is not None:
            self._setReady(True)
            reason = self._readUntilLost(fd)
            os.close(fd)
            if reason is None:
                return
            self._setReady(False)
            self._notify(f"input device {self._device} went away ({reason}); reading it again once it is back")
            fd = self._reopen()

    def _readUntilLost(self, fd: int) -> str | None:
        """Publishes the device's events until it goes away (returns why) or the object is
        asked to close (returns None)."""
        pending = b""
        while not self._shouldClose:
            readable, _, _ = select.select([fd], [], [], POLL_INTERVAL)
            if not readable:
                continue
            try:
                data = os.read(fd, EVENT_RECORD.size * 64)
            except BlockingIOError:
                continue
            except OSError as error:
                return os.strerror(error.errno or errno.ENODEV)
            if not data:
                return "end of file"
            pending += data
            whole = len(pending) - len(pending) % EVENT_RECORD.size
            for start in range(0, whole, EVENT_RECORD.size):
                self._put_nowait(describeEvent(pending[start : start + EVENT_RECORD.size]))
            pending = pending[whole:]
        return None

    def _reopen(self) -> int | None:
        """The device once it is back, or None if the object is asked to close first."""
        while not self._sleep(REOPEN_INTERVAL):
            if self._kind is not None and self._foundByKind:
                try:
                    self._device = findInputDevice(self._kind).path
                except NoInputDevice:
                    continue
            try:
                fd = _openDevice(self._device)
            except OSError:
                continue
            self._notify(f"input device {self._device} is back")
            return fd
        return None


class _InputKind(InputDevice):
    """A kind of device: the first one plugged in, unless ``device`` names one."""

    def __init__(
        self,
        eventFilter: Callable[[Event], bool] = defaultFilter,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        device: str | None = None,
    ) -> None:
        assert self._kind is not None
        if device is None:
            device = findInputDevice(self._kind).path
            self._foundByKind = True
        super().__init__(device, eventFilter, loop)


class Gamepad(_InputKind):
    """The first gamepad or joystick (e.g. a wired Xbox controller): buttons (``BTN_SOUTH``,
    ``"event": "Key"``) and sticks (``ABS_X``, ``"event": "Absolute"``)."""

    _kind = "gamepad"


class Mouse(_InputKind):
    """The first mouse: motion (``REL_X``, ``"event": "Relative"``) and buttons (``BTN_LEFT``)."""

    _kind = "mouse"


class Keyboard(_InputKind):
    """The first keyboard: keys (``KEY_A``, state 1 down, 0 up, 2 repeat; ``"event": "Key"``)."""

    _kind = "keyboard"
