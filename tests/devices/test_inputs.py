"""Gamepad, Mouse and Keyboard reading real ``struct input_event`` records from a device node
(this machine has no /dev/uinput, so no real input device: a pty stands in for
/dev/input/eventN, fed by the stand-in device process of ``serialboard.py``)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from rtcbot import Gamepad, Keyboard, Mouse
from rtcbot._inputdevices import NoInputDevice, findInputDevice, listInputDevices
from rtcbot.inputs import EVENT_RECORD, InputDevice, describeEvent

from .boards import plugged, send, unplug

pytestmark = [pytest.mark.loop_timeout(20), pytest.mark.timeout(40)]

EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC = 0, 1, 2, 3, 4
BTN_SOUTH, BTN_EAST, BTN_LEFT, KEY_A, ABS_X, ABS_Y, REL_X, MSC_SCAN = 0x130, 0x131, 0x110, 30, 0, 1, 0, 4


def record(eventType: int, code: int, value: int, at: float = 1552629513.7494) -> bytes:
    return EVENT_RECORD.pack(int(at), round(at % 1 * 1e6), eventType, code, value)


def report(*events: tuple[int, int, int]) -> bytes:
    """Events as the kernel sends them: followed by a SYN_REPORT."""
    return b"".join(record(*event) for event in events) + record(EV_SYN, 0, 0)


async def test_gamepad_events_are_rtcbots_dicts_without_the_sync_reports(tmp_path: Path) -> None:
    link = tmp_path / "event7"
    async with plugged(link, "--sketch", "relay") as device, Gamepad(device=str(link)) as gamepad:
        await asyncio.wait_for(gamepad.onReady(), 10)
        subscription = gamepad.subscribe()  # RTCBot's first get() subscribes; this does it before sending
        await send(device, report((EV_KEY, BTN_SOUTH, 1), (EV_ABS, ABS_Y, -1)) + report((EV_KEY, BTN_SOUTH, 0)))
        events = [await asyncio.wait_for(subscription.get(), 5) for _ in range(3)]
    assert events == [
        {"timestamp": 1552629513.7494, "code": "BTN_SOUTH", "state": 1, "event": "Key"},
        {"timestamp": 1552629513.7494, "code": "ABS_Y", "state": -1, "event": "Absolute"},
        {"timestamp": 1552629513.7494, "code": "BTN_SOUTH", "state": 0, "event": "Key"},
    ]


async def test_mouse_and_keyboard_and_a_record_split_across_two_reads(tmp_path: Path) -> None:
    mouseLink, keyboardLink = tmp_path / "event1", tmp_path / "event2"
    async with (
        plugged(mouseLink, "--sketch", "relay") as mouseDevice,
        plugged(keyboardLink, "--sketch", "relay") as keys,
    ):
        async with Mouse(device=str(mouseLink)) as mouse, Keyboard(device=str(keyboardLink)) as keyboard:
            await asyncio.wait_for(asyncio.gather(mouse.onReady(), keyboard.onReady()), 10)
            mouseEvents, keyboardEvents = mouse.subscribe(), keyboard.subscribe()  # as get() would, at once
            clicks = report((EV_MSC, MSC_SCAN, 589825), (EV_KEY, BTN_LEFT, 1), (EV_REL, REL_X, -2))
            await send(mouseDevice, clicks[:30])
            await send(mouseDevice, clicks[30:])
            await send(keys, report((EV_KEY, KEY_A, 1)) + report((EV_KEY, KEY_A, 2)) + report((EV_KEY, KEY_A, 0)))
            moved = [await asyncio.wait_for(mouseEvents.get(), 5) for _ in range(3)]
            typed = [await asyncio.wait_for(keyboardEvents.get(), 5) for _ in range(3)]
    assert [(e["code"], e["state"], e["event"]) for e in moved] == [
        ("MSC_SCAN", 589825, "Misc"),
        ("BTN_LEFT", 1, "Key"),
        ("REL_X", -2, "Relative"),
    ]
    assert [(e["code"], e["state"]) for e in typed] == [("KEY_A", 1), ("KEY_A", 2), ("KEY_A", 0)]


async def test_an_event_filter_runs_in_this_process_so_a_lambda_works_under_every_start_method(tmp_path: Path) -> None:
    link = tmp_path / "event3"
    async with plugged(link, "--sketch", "relay") as device:
        seen: list[str] = []

        def onlyButtons(event: dict[str, object]) -> bool:
            seen.append(str(event["code"]))
            return event["event"] == "Key"

        async with Gamepad(onlyButtons, device=str(link)) as gamepad:
            await asyncio.wait_for(gamepad.onReady(), 10)
            subscription = gamepad.subscribe()
            await send(device, report((EV_ABS, ABS_X, 5), (EV_KEY, BTN_EAST, 1)))
            assert (await asyncio.wait_for(subscription.get(), 5))["code"] == "BTN_EAST"
    assert seen[:2] == ["ABS_X", "BTN_EAST"]  # the filter saw all, only the button passed


class _Said(logging.Handler):
    """Sets an event when a log record holds ``words``."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words, self.said = words, asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self._loop.call_soon_threadsafe(self.said.set)


async def test_an_unplugged_gamepad_is_reported_and_read_again_once_it_is_back(tmp_path: Path) -> None:
    link = tmp_path / "event4"
    wentAway, back = _Said("went away"), _Said("is back")
    logger = logging.getLogger("rtcbot")
    for handler in (wentAway, back):
        logger.addHandler(handler)
    try:
        async with plugged(link, "--sketch", "relay") as device:
            gamepad = Gamepad(device=str(link))
            await asyncio.wait_for(gamepad.onReady(), 10)
            subscription = gamepad.subscribe()
            await send(device, report((EV_KEY, BTN_SOUTH, 1)))
            assert (await asyncio.wait_for(subscription.get(), 5))["state"] == 1
            await unplug(device)
            await asyncio.wait_for(wentAway.said.wait(), 5)
        async with plugged(link, "--sketch", "relay") as device:
            await asyncio.wait_for(back.said.wait(), 5)
            await send(device, report((EV_KEY, BTN_SOUTH, 0)))
            assert (await asyncio.wait_for(subscription.get(), 5))["state"] == 0
            gamepad.close()
            await asyncio.wait_for(gamepad, 10)
    finally:
        for handler in (wentAway, back):
            logger.removeHandler(handler)


async def test_no_device_is_a_clear_error(tmp_path: Path) -> None:
    present = listInputDevices()
    for kind, device in (("gamepad", Gamepad), ("mouse", Mouse), ("keyboard", Keyboard)):
        if any(info.isA(kind) for info in present):
            continue  # this machine has one: nothing to check here
        with pytest.raises(NoInputDevice, match=f"no {kind} is plugged in.*device='/dev/input/eventN'"):
            device()
    with pytest.raises(FileNotFoundError):
        Gamepad(device=str(tmp_path / "event99"))
    with pytest.raises(TypeError, match="eventFilter"):
        InputDevice(str(tmp_path), eventFilter="BTN_SOUTH")  # type: ignore[arg-type]


def test_devices_are_found_by_kind_in_the_kernels_list(tmp_path: Path) -> None:
    """The list's format, written out (the kernel's /proc/bus/input/devices is empty here)."""
    devices = tmp_path / "devices"
    devices.write_text(
        'I: Bus=0019 Vendor=0000 Product=0001 Version=0000\nN: Name="Power Button"\nP: Phys=PNP0C0C/button/input0\n'
        "H: Handlers=kbd event0 \nB: PROP=0\nB: EV=3\nB: KEY=10000000000000 0\n\n"
        'I: Bus=0003 Vendor=046d Product=c077 Version=0111\nN: Name="Logitech USB Optical Mouse"\n'
        "H: Handlers=mouse0 event3 \nB: PROP=0\nB: EV=17\nB: KEY=ff0000 0 0 0 0\nB: REL=903\nB: MSC=10\n\n"
        'I: Bus=0003 Vendor=045e Product=028e Version=0114\nN: Name="Microsoft X-Box 360 pad"\n'
        "H: Handlers=event5 js0 \nB: PROP=0\nB: EV=20000b\nB: KEY=7cdb000000000000 0 0 0 0\nB: ABS=3003f\n\n"
        'I: Bus=0003 Vendor=04d9 Product=1603 Version=0110\nN: Name="USB Keyboard"\n'
        "H: Handlers=sysrq kbd leds event6 \nB: PROP=0\nB: EV=120013\nB: KEY=1000000000007 ff9f207ac14057ff\n\n"
    )
    assert findInputDevice("gamepad", devices).path == "/dev/input/event5"
    assert findInputDevice("mouse", devices).path == "/dev/input/event3"
    assert findInputDevice("keyboard", devices).name == "USB Keyboard"  # not the power button
    onlyPower = tmp_path / "only-power"
    onlyPower.write_text(devices.read_text().split("\n\n")[0])
    with pytest.raises(NoInputDevice, match=r"Power Button \(/dev/input/event0\)"):
        findInputDevice("gamepad", onlyPower)


def test_timestamps_keep_microseconds() -> None:
    now = time.time()
    event = describeEvent(record(EV_KEY, BTN_SOUTH, 1, now))
    assert abs(event["timestamp"] - now) < 2e-6 and event["code"] == "BTN_SOUTH"
