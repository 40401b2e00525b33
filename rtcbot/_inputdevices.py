"""Which Linux input devices exist, from the kernel's list (/proc/bus/input/devices), and
what each is: a gamepad (it has a joystick handler), a mouse, a keyboard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEVICE_LIST = Path("/proc/bus/input/devices")
EV_REL, EV_ABS, EV_REP = 0x02, 0x03, 0x14


class NoInputDevice(LookupError):
    """No input device of the kind asked for is plugged in."""


@dataclass(frozen=True)
class InputDeviceInfo:
    """One device of the kernel's list."""

    name: str
    handlers: tuple[str, ...]
    eventTypes: int
    """The bit mask of event types it sends (bit 1: keys, bit 2: relative axes, bit 3: absolute axes, ...)."""

    @property
    def path(self) -> str:
        """Its event device, /dev/input/eventN."""
        return "/dev/input/" + next(handler for handler in self.handlers if handler.startswith("event"))

    def isA(self, kind: str) -> bool:
        """True if it is a ``"gamepad"``, ``"mouse"`` or ``"keyboard"``."""
        has = self.eventTypes >> {"gamepad": EV_ABS, "mouse": EV_REL, "keyboard": EV_REP}[kind] & 1
        prefix = {"gamepad": "js", "mouse": "mouse", "keyboard": "kbd"}[kind]
        return bool(has) and any(handler.startswith(prefix) for handler in self.handlers)


def listInputDevices(deviceList: Path = DEVICE_LIST) -> list[InputDeviceInfo]:
    """The devices in the kernel's list that have an event device, in its order."""
    try:
        text = deviceList.read_text()
    except FileNotFoundError:
        return []
    devices = []
    for block in text.split("\n\n"):
        name = re.search(r'^N: Name="(.*)"$', block, re.MULTILINE)
        handlers = re.search(r"^H: Handlers=(.*)$", block, re.MULTILINE)
        events = re.search(r"^B: EV=([0-9a-fA-F]+)$", block, re.MULTILINE)
        if name and handlers and events and re.search(r"\bevent\d+\b", handlers.group(1)):
            devices.append(InputDeviceInfo(name.group(1), tuple(handlers.group(1).split()), int(events.group(1), 16)))
    return devices


def findInputDevice(kind: str, deviceList: Path = DEVICE_LIST) -> InputDeviceInfo:
    """The first ``kind`` of device; :class:`NoInputDevice` says what there is instead."""
    devices = listInputDevices(deviceList)
    for device in devices:
        if device.isA(kind):
            return device
    present = "; ".join(f"{device.name} ({device.path})" for device in devices) or "none"
    raise NoInputDevice(
        f"no {kind} is plugged in (input devices in {deviceList}: {present}). Plug one in, or pass "
        f"device='/dev/input/eventN' to read a particular one"
    )
