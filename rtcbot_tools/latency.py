"""rtcbot-latency: where the time goes between a capture and its subscribers, measured on
the machine it runs on.

    rtcbot-latency                                   synthetic camera, 640x480 at 30 fps
    rtcbot-latency --compare --size vga,1080p         against rawshm and RTCBot 0.2.5's pickling
    rtcbot-latency --size audio,vga,1080p,4k --subscribers 1,2,4,8 --slow
    rtcbot-latency --source 0 --display               a real camera, shown in a window
    rtcbot-latency --source mic | --source roundtrip  microphone; speaker → microphone clicks
    rtcbot-latency --via webrtc --compare             through an RTCConnection pair (two
                                                      processes), beside the bare pipeline
    ... --json out.json --plot out.png

Each run measures for --seconds after a 0.3 s warm-up. Bad arguments, or a device that cannot
be opened, end with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from rtcbot.streams._names import checkName

from .attachrun import runPublished
from .progress import Progress
from .report import details, ratios, ratioText, table, writeJson
from .roundtrip import runRoundTrip
from .scenarios import FrameSize, ProfilerError, RunResult, Scenario, runBaseline, runRtcbot
from .webrtcrun import runWebrtc

NAMED_SIZES = {"qvga": (320, 240), "vga": (640, 480), "720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
AUDIO = FrameSize("audio 1024x2", (1024, 2), "float32")
MIN_SIZE, MAX_SIZE = (64, 48), (7680, 4320)
SOURCES = "synthetic, mic, roundtrip, a camera index, a video file or a URL"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str) -> NoReturn:
    """Ends the command with ``message`` on one line and exit status 2."""
    print(f"rtcbot-latency: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parseSize(text: str) -> FrameSize:
    """A size argument (WxH, audio or a name like 1080p) as a FrameSize; impossible sizes fail."""
    token = text.strip().lower()
    if token == "audio":
        return AUDIO
    if token in NAMED_SIZES:
        width, height = NAMED_SIZES[token]
    else:
        match = re.fullmatch(r"(\d+)x(\d+)", token)
        if match is None:
            fail(f"unknown size {text!r}: give WIDTHxHEIGHT (e.g. 640x480), audio, or one of {', '.join(NAMED_SIZES)}")
        width, height = int(match[1]), int(match[2])
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        fail(
            f"impossible size {width}x{height}: frames must be from "
            f"{MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]}"
        )
    return FrameSize(f"{width}x{height}", (height, width, 3), "uint8")


def parseCounts(text: str) -> list[int]:
    """Subscriber counts from a comma-separated list (0 to 64)."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        fail(f"--subscribers takes whole numbers separated by commas, got {text!r}")
    if any(not 0 <= count <= 64 for count in counts):
        fail(f"--subscribers must be from 0 to 64, got {text!r}")
    return counts


def checkSource(source: str) -> None:
    """Fails unless ``source`` is one the profiler can open."""
    if source in ("synthetic", "mic", "roundtrip") or source.isdigit() or "://" in source:
        return
    if not os.path.exists(source):
        fail(f"unknown source {source!r}: give {SOURCES}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked: every bad combination fails with one line."""
    parser = _Parser(prog="rtcbot-latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="synthetic", help=f"what to measure: {SOURCES} (default synthetic)")
    parser.add_argument(
        "--size", default="vga", help="frame sizes, comma separated: WxH, audio, " + ", ".join(NAMED_SIZES)
    )
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second asked of the source (0: flat out)")
    parser.add_argument("--subscribers", default="1", help="subscriber counts, comma separated (e.g. 1,2,4,8)")
    parser.add_argument("--slow", action="store_true", help="add a subscriber that takes one frame per second")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run rawshm and RTCBot 0.2.5's pickled queue (with --via webrtc: the bare pipeline)",
    )
    parser.add_argument(
        "--via",
        choices=("pipeline", "webrtc"),
        default="pipeline",
        help="webrtc: send the frames through an RTCConnection to another process (VP8)",
    )
    parser.add_argument(
        "--attach",
        metavar="NAME",
        help="measure the named stream NAME (e.g. of rtcbot serve) from this program; with "
        "--compare, publish the source as NAME and measure an attached program beside it",
    )
    parser.add_argument("--display", action="store_true", help="also show the frames in a CVDisplay window")
    parser.add_argument("--device", help="sound device (name or index) for mic and roundtrip")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per run (default 5)")
    parser.add_argument("--json", type=Path, help="write the results, with the environment, here")
    parser.add_argument("--plot", type=Path, help="write a PNG of histograms and percentiles here")
    arguments = parser.parse_args(argv)
    checkSource(arguments.source)
    arguments.sizes = [parseSize(part) for part in arguments.size.split(",")]
    arguments.counts = parseCounts(arguments.subscribers)
    if not 0 < arguments.seconds <= 3600:
        fail(f"--seconds must be more than 0 and at most 3600, got {arguments.seconds:g}")
    if not 0 <= arguments.fps <= 1000:
        fail(f"--fps must be from 0 to 1000, got {arguments.fps:g}")
    video = arguments.source not in ("mic", "roundtrip")
    if arguments.via == "webrtc":
        if arguments.source in ("mic", "roundtrip") or any(size.isAudio for size in arguments.sizes):
            fail("--via webrtc measures video: use a camera or the synthetic source and a video size")
        if arguments.display or arguments.slow or arguments.counts != [1]:
            fail("--via webrtc has one subscriber, at the far end: drop --display, --slow and --subscribers")
    if arguments.attach is not None:
        try:
            checkName(arguments.attach)
        except ValueError as error:
            fail(str(error))
        if arguments.via == "webrtc" or arguments.display:
            fail("--attach measures a named stream: drop --via webrtc and --display")
    if arguments.compare and arguments.source != "synthetic":
        fail("--compare needs --source synthetic: the baselines cannot open devices")
    if arguments.compare and arguments.display:
        fail("--compare and --display do not go together: the baselines have no display")
    if arguments.display and not video:
        fail("--display needs a video source")
    if 0 in arguments.counts and not arguments.display:
        fail("0 subscribers only makes sense with --display")
    for size in arguments.sizes:
        if size.isAudio and arguments.source not in ("synthetic", "mic"):
            fail(f"size audio needs --source synthetic or mic, not {arguments.source}")
        if not size.isAudio and arguments.source == "mic":
            fail(f"--source mic records audio: use --size audio, not {size.label}")
        if size.isAudio and arguments.display:
            fail("--display cannot show audio blocks")
    for path in (arguments.json, arguments.plot):
        if path is not None and not path.resolve().parent.is_dir():
            fail(f"cannot write {path}: {path.resolve().parent} is not a folder")
    return arguments


def plan(arguments: argparse.Namespace) -> list[Scenario]:
    """Every run the arguments ask for, in order."""
    if arguments.attach is not None and not arguments.compare:
        stream = FrameSize(f"stream {arguments.attach}", (), "uint8")
        return [
            Scenario(
                "stream",
                stream,
                arguments.fps,
                count,
                arguments.slow,
                False,
                arguments.seconds,
                "attached",
                arguments.attach,
            )
            for count in arguments.counts
        ]
    if arguments.attach is not None:
        transports: tuple[str, ...] = ("published",)
    elif arguments.via == "webrtc":
        transports = ("webrtc", "rtcbot") if arguments.compare else ("webrtc",)
    else:
        transports = ("rtcbot", "rawshm", "pickle") if arguments.compare else ("rtcbot",)
    scenarios: list[Scenario] = []
    for size in arguments.sizes:
        for count in arguments.counts:
            base = Scenario(
                arguments.source, size, arguments.fps, count, arguments.slow, arguments.display, arguments.seconds
            )
            scenarios.extend(replace(base, transport=transport, stream=arguments.attach) for transport in transports)
    return scenarios


async def profile(arguments: argparse.Namespace, progress: Progress) -> list[RunResult]:
    """Does every run, reporting progress; returns their results."""
    runs = []
    if arguments.source == "roundtrip":
        progress.start("speaker → microphone clicks")
        runs.append(await runRoundTrip(arguments.seconds, arguments.device, progress.tick))
        return runs
    for scenario in plan(arguments):
        progress.start(f"{scenario.transport} {scenario.size.label} ×{scenario.subscribers}")
        if scenario.transport in ("rtcbot", "attached"):
            runs.extend(await runRtcbot(scenario, progress.tick))
        elif scenario.transport == "published":
            runs.extend(await runPublished(scenario, progress.tick))
        elif scenario.transport == "webrtc":
            runs.append(await runWebrtc(scenario, progress.tick))
        else:
            runs.append(await runBaseline(scenario, progress.tick))
    return runs


def main(argv: list[str] | None = None) -> None:
    """The ``rtcbot-latency`` command."""
    arguments = parse(argv)
    logging.basicConfig(level=logging.ERROR, format="rtcbot-latency: %(name)s: %(message)s")
    runs = len(plan(arguments)) if arguments.source != "roundtrip" else 1
    progress = Progress(runs)
    try:
        results = asyncio.run(profile(arguments, progress))
    except ProfilerError as error:
        progress.finish()
        fail(str(error))
    except KeyboardInterrupt:
        progress.finish()
        print("rtcbot-latency: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    progress.finish()
    print(f"rtcbot-latency: source {arguments.source}, {arguments.seconds:g} s per run after a 0.3 s warm-up")
    print(table(results))
    print()
    print(details(results))
    comparison = ratioText(ratios(results))
    if comparison:
        print()
        print(comparison)
    settings: dict[str, Any] = {key: value for key, value in vars(arguments).items() if key not in ("sizes", "counts")}
    settings = {key: str(value) if isinstance(value, Path) else value for key, value in settings.items()}
    if arguments.json is not None:
        writeJson(arguments.json, settings, results)
        print(f"\nJSON: {arguments.json}")
    if arguments.plot is not None:
        from .plot import writePlot

        title = f"rtcbot-latency: source {arguments.source}, {len(results)} run(s) of {arguments.seconds:g} s"
        writePlot(arguments.plot, results, title)
        print(f"plot: {arguments.plot}")


if __name__ == "__main__":
    main()
