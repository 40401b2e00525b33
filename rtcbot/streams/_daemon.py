"""``rtcbot serve``: devices run headless and published under names until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from ..base.base import BaseSubscriptionProducer
from ._names import checkName

#: Slots per device: the devices' own few plus two for each of several attached programs.
DEFAULT_SLOTS = 16


def addServeArguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rtcbot serve``."""
    video = parser.add_mutually_exclusive_group()
    video.add_argument("--camera", metavar="N|PATH", help="a camera number, a video file or a URL (OpenCV)")
    video.add_argument(
        "--synthetic", action="store_true", help="synthetic devices: the test-pattern camera (and tone for --mic)"
    )
    parser.add_argument("--name", default="camera", type=_name, help="the camera's stream name (default: camera)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=30)
    parser.add_argument("--mic", action="store_true", help="also publish the microphone")
    parser.add_argument("--mic-name", default="mic", type=_name, help="the microphone's stream name (default: mic)")
    parser.add_argument("--samplerate", type=float, default=48000)
    parser.add_argument("--group", help="a group whose members may attach too (default: this user only)")
    parser.add_argument("--slots", type=int, default=DEFAULT_SLOTS, help="shared-memory slots per device")


def _name(value: str) -> str:
    try:
        return checkName(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _devices(arguments: argparse.Namespace) -> list[tuple[str, BaseSubscriptionProducer[Any]]]:
    from ..devices import CVCamera, Microphone, SyntheticCamera, SyntheticMicrophone

    devices: list[tuple[str, BaseSubscriptionProducer[Any]]] = []
    size: dict[str, Any] = dict(width=arguments.width, height=arguments.height, fps=arguments.fps)
    if arguments.synthetic:
        devices.append((arguments.name, SyntheticCamera(**size, slotCount=arguments.slots)))
    elif arguments.camera is not None:
        source: int | str = int(arguments.camera) if arguments.camera.isdigit() else arguments.camera
        devices.append((arguments.name, CVCamera(**size, cameranumber=source, slotCount=arguments.slots)))
    if arguments.mic:
        microphone = SyntheticMicrophone if arguments.synthetic else Microphone
        devices.append((arguments.mic_name, microphone(arguments.samplerate, slotCount=arguments.slots)))
    return devices


async def serve(arguments: argparse.Namespace) -> int:
    """Publishes the devices until SIGTERM or SIGINT; returns the exit status. A device
    that fails is reported and its stream ends; the others go on. When none is left the
    daemon stops with status 1 (for systemd's ``Restart=on-failure``)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    devices = _devices(arguments)
    publications = []
    failed: list[str] = []
    try:
        for name, device in devices:
            publication = device.publish(name, group=arguments.group)
            publications.append(publication)
            print(f"rtcbot serve: publishing {name!r} from {device!r} at {publication.path}", flush=True)

            def onError(error: BaseException, name: str = name) -> None:
                failed.append(name)
                print(f"rtcbot serve: error: {name}: {error}", flush=True)
                if len(failed) == len(devices):
                    stop.set()

            device.onError(onError)
            device.onReady(lambda name=name: print(f"rtcbot serve: {name!r} is ready", flush=True))
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        for publication in publications:
            publication.close()
        for _, device in devices:
            device.close()
        for publication in publications:
            await publication
        for _, device in devices:
            await device
    print("rtcbot serve: stopped", flush=True)
    return 1 if failed and len(failed) == len(devices) else 0
