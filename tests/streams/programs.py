"""Independent programs for the named-stream tests: ``python -m tests.streams.programs ROLE ...``.

Each prints one JSON object per line on stdout: ``{"ready": pid}`` once it runs, then one
line per frame (``seq``, ``ts``, ``crc``, ``stamp``, ``memfd``, ``writable``) and a last
``{"done": ..., "statistics": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
import zlib
from typing import Any

import numpy as np

import rtcbot
from rtcbot.devices.testpattern import decodeStamp


def say(**fields: Any) -> None:
    """One line of JSON on stdout, flushed."""
    print(json.dumps(fields), flush=True)


def mappingOf(address: int) -> str:
    """The name of the mapping of this process that holds ``address`` ('' if anonymous)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            start, end = (int(value, 16) for value in parts[0].split("-"))
            if start <= address < end:
                return parts[5].strip() if len(parts) > 5 else ""
    return ""


def rtcbotMappings() -> int:
    """How many of this process's mappings are rtcbot's shared-memory segments."""
    with open("/proc/self/maps") as maps:
        return sum("memfd:rtcbot-" in line for line in maps)


def describe(frame: np.ndarray[Any, Any]) -> dict[str, Any]:
    """What the tests compare of a frame."""
    assert isinstance(frame, rtcbot.Frame)
    return {
        "seq": frame.sequence,
        "ts": frame.timestamp,
        "crc": zlib.crc32(frame.data),
        "stamp": decodeStamp(frame)[0] if frame.ndim == 3 and frame.shape[0] >= 16 else None,
        "memfd": "memfd:rtcbot-" in mappingOf(frame.ctypes.data),
        "writable": bool(frame.flags.writeable),
    }


async def attached(arguments: argparse.Namespace) -> None:
    stream = rtcbot.attach(arguments.name, reattach=arguments.reattach)
    say(ready=os.getpid())
    held = []
    for _ in range(arguments.count):
        frame = await stream.get()
        say(**describe(frame))
        if len(held) < arguments.hold:
            held.append(frame)
            if len(held) == arguments.hold:
                say(holding=len(held))
                await asyncio.Event().wait()  # holds them until killed
        if arguments.delay:
            await asyncio.sleep(arguments.delay)  # the frame stays held meanwhile
        del frame
    statistics = dataclasses.asdict(stream.statistics())
    stream.close()
    await stream
    say(done=True, statistics=statistics)


def blocking(arguments: argparse.Namespace) -> None:
    say(ready=os.getpid())
    count = 0
    try:
        for frame in rtcbot.attach(arguments.name, reattach=arguments.reattach).frames(timeout=arguments.timeout):
            say(**describe(frame))
            count += 1
            if count == arguments.count:
                break
    except Exception as error:
        say(done=False, error=type(error).__name__, message=str(error))
        return
    del frame  # the last one: the iterator has let go of its connection already
    say(done=True, frames=count, mappingsAfter=rtcbotMappings())


async def publishing(arguments: argparse.Namespace) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    camera = rtcbot.SyntheticCamera(arguments.width, arguments.height, fps=arguments.fps)
    try:
        publication = camera.publish(arguments.name)
    except Exception as error:
        say(done=False, error=type(error).__name__, message=str(error))
        camera.close()
        await camera
        return
    await camera.onReady()
    say(ready=os.getpid())
    await stop.wait()
    publication.close()
    camera.close()
    await publication
    await camera
    say(done=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["attach", "blocking", "publish"])
    parser.add_argument("name")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--reattach", action="store_true")
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--fps", type=float, default=60)
    arguments = parser.parse_args()
    if arguments.role == "blocking":
        blocking(arguments)
    elif arguments.role == "attach":
        asyncio.run(attached(arguments))
    else:
        asyncio.run(publishing(arguments))


if __name__ == "__main__":
    sys.exit(main())


async def _attachOnce(name: str) -> dict[str, Any]:
    stream = rtcbot.attach(name, reattach=False)
    try:
        frame = await asyncio.wait_for(stream.get(), 5)
    except rtcbot.ProducerClosed:
        return {"error": type(stream.error).__name__, "message": str(stream.error)}
    finally:
        stream.close()
    result = describe(frame)
    del frame
    await stream
    return result


def attachAs(uid: int, gid: int, groups: list[int], directory: str, name: str, report: Any) -> None:
    """In a child process started as root: becomes user ``uid`` (whom the interpreter's own
    files may not be readable by: everything needed is imported already), attaches to
    ``name`` in stream directory ``directory`` once and sends what happened through
    ``report`` (a Connection)."""
    os.environ["RTCBOT_STREAM_DIR"] = directory
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    try:
        result = asyncio.run(_attachOnce(name))
    except Exception as error:
        result = {"error": type(error).__name__, "message": str(error)}
    report.send(result)
    report.close()
