"""Attach to a camera another program publishes, e.g. ``rtcbot serve --synthetic --name front``.

    python examples/attach_stream.py [--name front] [--frames 100] [--blocking]

Prints each second how many frames came, from which publisher, and how many were missed.
With ``--blocking`` the same without asyncio: ``for frame in attach(name).frames(): ...``.
"""

import argparse
import asyncio
import time

import rtcbot


def report(name: str, count: int, frame: rtcbot.Frame, missed: int) -> None:
    age = (time.monotonic_ns() - frame.timestamp) / 1e6
    print(
        f"{name}: {count} frames, last #{frame.sequence} {frame.shape} captured {age:.1f} ms ago, missed {missed}",
        flush=True,
    )


async def attached(name: str, frames: int) -> None:
    stream = rtcbot.attach(name)
    print(f"waiting for {name!r}...", flush=True)
    await stream.onReady()
    print(f"attached to {name!r}, published by pid {stream.statistics().publisherPid}", flush=True)
    lastReport = time.monotonic()
    for count in range(1, frames + 1):
        frame = await stream.get()
        if time.monotonic() - lastReport >= 1 or count == frames:
            report(name, count, frame, stream.statistics().missed)
            lastReport = time.monotonic()
    stream.close()
    await stream


def blocking(name: str, frames: int) -> None:
    print(f"waiting for {name!r}...", flush=True)
    lastReport = time.monotonic()
    for count, frame in enumerate(rtcbot.attach(name).frames(), start=1):
        if time.monotonic() - lastReport >= 1 or count == frames:
            report(name, count, frame, missed=0)
            lastReport = time.monotonic()
        if count == frames:
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="front")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--blocking", action="store_true")
    arguments = parser.parse_args()
    if arguments.blocking:
        blocking(arguments.name, arguments.frames)
    else:
        asyncio.run(attached(arguments.name, arguments.frames))


if __name__ == "__main__":
    main()
