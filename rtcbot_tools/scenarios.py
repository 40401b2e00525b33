"""One profiler run: a source, its subscribers, one transport, for a few seconds; and the
per-frame stage times it produced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtcbot import (
    CVCamera,
    CVDisplay,
    Frame,
    Microphone,
    MostRecentSubscription,
    SyntheticCamera,
    SyntheticMicrophone,
    attach,
)
from rtcbot.base import BaseSubscriptionProducer
from rtcbot.devices.testpattern import drawPattern
from rtcbot.streams import AttachedStream
from rtcbot.streams._connecting import waitingMessage

from .baselines import pickleFromChild, rawFromChild
from .stages import StageStatistics
from .usage import ProcessUsage, UsageWatch

#: Frames captured this soon after the source became ready are not measured (set-up, page faults).
WARMUP_S = 0.3
#: How long a source may take to become ready.
READY_TIMEOUT_S = 15.0
TRANSPORTS = ("rtcbot", "rawshm", "pickle")


class ProfilerError(Exception):
    """A run could not be done: the message says why, in one line."""


@dataclass(frozen=True)
class FrameSize:
    """What each frame is: e.g. '1920x1080' (BGR uint8) or 'audio 1024x2' (float32 samples)."""

    label: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def isAudio(self) -> bool:
        """True for audio blocks (float32 samples), False for BGR frames."""
        return self.dtype == "float32"


@dataclass(frozen=True)
class Scenario:
    source: str
    """'synthetic', 'mic', or what CVCamera opens (a camera index, a file, a URL)."""
    size: FrameSize
    fps: float
    subscribers: int
    slow: bool
    display: bool
    seconds: float
    transport: str = "rtcbot"
    stream: str | None = None
    """The named stream an ``attached`` run attaches to (or the name a ``published`` run
    publishes its source as)."""


@dataclass
class RunResult:
    """What one run measured."""

    transport: str
    source: str
    size: str
    subscribers: int
    slow: bool
    display: bool
    seconds: float
    frames: int
    """Frames measured (after the warm-up) at the first subscriber (or shown, for a display)."""
    fps: float
    """From the capture timestamps of those frames."""
    drops: dict[str, int]
    stages: list[StageStatistics]
    processes: list[ProcessUsage] = field(default_factory=list)

    def stage(self, name: str) -> StageStatistics | None:
        """The statistics of the stage called ``name``, if it was measured."""
        return next((stage for stage in self.stages if stage.name == name), None)


TOTAL = "capture → subscriber resumed"
TRANSPORT_COST = "announced → subscriber resumed"
SHOWN_TOTAL = "capture → shown"
SKIPPED = "skipped by the first subscriber (it keeps only the latest)"


class SampleLog:
    """Per-frame times (monotonic ns, 0 where a transport does not tell) of frames taken by
    subscribers: captured, slot written, announced, received in the parent, resumed."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int, int, int]] = []
        self.firstSubscriber: list[int] = []  # capture times seen by subscriber 0
        self.published: list[int] = []  # capture times of everything published

    def skippedByFirst(self, after: int) -> int:
        """Frames published between the first and the last one subscriber 0 took (after
        ``after``) that it did not take."""
        seen = [t for t in self.firstSubscriber if t >= after]
        if not seen:
            return 0
        published = sum(1 for t in self.published if seen[0] <= t <= seen[-1])
        return max(0, published - len(seen))

    def table(self, after: int) -> np.ndarray[Any, Any]:
        """The rows of frames captured at or after ``after``, as an (n, 5) int64 array."""
        rows = np.array(self.rows, dtype=np.int64).reshape(-1, 5)
        return rows[rows[:, 0] >= after]


def producerStages(rows: np.ndarray[Any, Any]) -> list[StageStatistics]:
    """Statistics of every stage the rows have both ends of."""
    captured, written, announced, received, resumed = rows.T
    stages = []
    for name, start, end in (
        ("capture → slot written", captured, written),
        ("slot written → announced", written, announced),
        ("announced → received", announced, received),
        ("received → subscriber resumed", received, resumed),
        (TRANSPORT_COST, announced, resumed),
        (TOTAL, captured, resumed),
    ):
        known = (start > 0) & (end > 0)
        if known.any():
            stages.append(StageStatistics.of(name, (end - start)[known]))
    return stages


def fpsOf(captureTimes: list[int]) -> float:
    """Frames per second from capture times (0 for fewer than two)."""
    if len(captureTimes) < 2:
        return 0.0
    return round((len(captureTimes) - 1) / ((captureTimes[-1] - captureTimes[0]) / 1e9), 2)


async def watchFor(seconds: float, watch: UsageWatch, tick: Callable[[float], None]) -> None:
    """Waits ``seconds``, sampling process usage and reporting progress 4 times a second."""
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        watch.sample(time.monotonic())
        tick(elapsed / seconds)
        await asyncio.sleep(min(0.25, seconds - elapsed))
    watch.sample(time.monotonic())
    tick(1.0)


def _fillPattern(size: FrameSize) -> Callable[[np.ndarray[Any, Any], int], None] | None:
    """What the baselines' child draws: the synthetic camera's pattern (None: audio blocks,
    copied like the synthetic microphone's)."""
    if size.isAudio:
        return None
    return _drawNow


def _drawNow(frame: np.ndarray[Any, Any], index: int) -> None:
    drawPattern(frame, index, time.monotonic_ns())


def openSource(scenario: Scenario) -> BaseSubscriptionProducer[Frame]:
    """The producer a scenario measures: SyntheticCamera or -Microphone, Microphone or
    CVCamera, or for an ``attached`` run the named stream."""
    if scenario.transport == "attached":
        assert scenario.stream is not None
        return attach(scenario.stream, reattach=False)
    shape = scenario.size.shape
    if scenario.source == "synthetic":
        if scenario.size.isAudio:
            return SyntheticMicrophone(48000, channels=shape[1], blocksize=shape[0])
        return SyntheticCamera(shape[1], shape[0], fps=scenario.fps)
    if scenario.source == "mic":
        return Microphone(blocksize=shape[0] if scenario.size.isAudio else 1024)
    source: int | str = int(scenario.source) if scenario.source.isdigit() else scenario.source
    return CVCamera(shape[1], shape[0], cameranumber=source, fps=scenario.fps)


async def _subscriber(source: Any, log: SampleLog, first: bool) -> None:
    subscription = source.subscribe()
    while True:
        frame = await subscription.get()
        resumed = time.monotonic_ns()
        log.rows.append((frame.timestamp, frame.writtenNs, frame.announcedNs, frame.receivedNs, resumed))
        if first:
            log.firstSubscriber.append(frame.timestamp)
        del frame


async def _slowSubscriber(subscription: Any) -> None:
    """Takes the latest frame once a second (and keeps it that long)."""
    while True:
        frame = await subscription.get()
        await asyncio.sleep(1.0)
        del frame


Alongside = Callable[[BaseSubscriptionProducer[Frame]], Awaitable[RunResult]]


async def runRtcbot(
    scenario: Scenario, tick: Callable[[float], None], alongside: Alongside | None = None
) -> list[RunResult]:
    """One run through rtcbot: the source, its subscribers (and display), measured; and
    what ``alongside(source)`` measures meanwhile (started once the source is ready)."""
    watch = UsageWatch()
    watch.start(time.monotonic())
    source = openSource(scenario)
    other: asyncio.Future[RunResult] | None = None
    log = SampleLog()
    source.subscribe(lambda frame: log.published.append(frame.timestamp))
    tasks = [asyncio.ensure_future(_subscriber(source, log, index == 0)) for index in range(scenario.subscribers)]
    if scenario.slow:
        tasks.append(asyncio.ensure_future(_slowSubscriber(source.subscribe(MostRecentSubscription()))))
    display = CVDisplay("rtcbot-latency", reportTiming=True) if scenario.display else None
    if display is not None:
        display.putSubscription(source)
    try:
        await _ready(source, display)
        if alongside is not None:
            other = asyncio.ensure_future(alongside(source))
        measureFrom = time.monotonic_ns() + int(WARMUP_S * 1e9)
        await watchFor(scenario.seconds + WARMUP_S, watch, tick)
        others = [] if other is None else [await other]
    finally:
        if other is not None and not other.done():
            other.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for closing in (source, display):
            if closing is not None:
                closing.close()
                await closing
    measured = [t for t in log.firstSubscriber if t >= measureFrom]
    stages = producerStages(log.table(measureFrom))
    drops = _drops(source)
    drops[SKIPPED] = log.skippedByFirst(measureFrom)
    if display is not None:
        allShown = display.takeTimings()
        shown = [row for row in allShown if row.captured >= measureFrom]
        stages += displayStages(shown)
        drops["not shown (the display skips to the latest)"] = max(0, source.statistics().published - len(allShown))
        if not scenario.subscribers:
            measured = [row.captured for row in shown]
    transport = "attached" if scenario.transport == "attached" else "rtcbot"
    run = RunResult(
        transport,
        scenario.source,
        scenario.size.label,
        scenario.subscribers,
        scenario.slow,
        scenario.display,
        scenario.seconds,
        len(measured),
        fpsOf(measured),
        drops,
        stages,
        watch.usage(),
    )
    return [run, *others]


async def _ready(source: Any, display: Any) -> None:
    """Waits until the source (and display) are ready; a failure to start is a ProfilerError."""
    for device in (source, display):
        if device is None:
            continue
        try:
            await asyncio.wait_for(device.onReady(), READY_TIMEOUT_S)
        except TimeoutError:
            if isinstance(device, AttachedStream):
                raise ProfilerError(waitingMessage(device.name, READY_TIMEOUT_S)) from None
            raise ProfilerError(f"{type(device).__name__} was not ready after {READY_TIMEOUT_S:.0f} s") from None
        except Exception:
            raise ProfilerError(f"{type(device).__name__}: {device.error}") from None


def _drops(source: Any) -> dict[str, int]:
    statistics = source.statistics()
    if not hasattr(statistics, "fromChild"):  # an attached stream
        return {"missed (dropped by the publisher's source, or not sent: held too many)": statistics.missed}
    drops = {f"transport: {cause}": count for cause, count in statistics.fromChild.dropped.items()}
    status = getattr(source, "audioStatus", None)
    if status is not None:
        drops["device overflows"] = status.overflows
    return drops


def displayStages(shown: list[Any]) -> list[StageStatistics]:
    """Statistics of the stages from capture to the screen."""
    if not shown:
        return []
    rows = np.array([(r.captured, r.handedToChild, r.receivedInChild, r.shown) for r in shown], np.int64)
    captured, handed, received, onScreen = rows.T
    return [
        StageStatistics.of("capture → handed to the display process", handed - captured),
        StageStatistics.of("handed → received by the display process", received - handed),
        StageStatistics.of("received → shown", onScreen - received),
        StageStatistics.of(SHOWN_TOTAL, onScreen - captured),
    ]


async def runBaseline(scenario: Scenario, tick: Callable[[float], None]) -> RunResult:
    """The same source and subscribers, through rawshm or RTCBot 0.2.5's pickled queue."""
    watch = UsageWatch()
    watch.start(time.monotonic())
    log = SampleLog()
    subscriptions: list[MostRecentSubscription[tuple[int, int, Any]]] = [
        MostRecentSubscription() for _ in range(scenario.subscribers)
    ]
    tasks = [asyncio.ensure_future(_baselineSubscriber(s, log, i == 0)) for i, s in enumerate(subscriptions)]
    slow: MostRecentSubscription[Any] = MostRecentSubscription()
    if scenario.slow:
        tasks.append(asyncio.ensure_future(_slowSubscriber(slow)))

    def deliver(captured: int, announced: int, payload: Any) -> None:
        log.published.append(captured)
        for subscription in subscriptions:
            subscription.put_nowait((captured, announced, payload))
        if scenario.slow:
            slow.put_nowait(payload)

    run = rawFromChild if scenario.transport == "rawshm" else pickleFromChild
    size = scenario.size
    fps = 48000 / size.shape[0] if size.isAudio else scenario.fps
    started = time.monotonic_ns()
    progress = asyncio.ensure_future(watchFor(scenario.seconds + WARMUP_S, watch, tick))
    try:
        await run(size.shape, size.dtype, fps, scenario.seconds + WARMUP_S, deliver, _fillPattern(size))
    finally:
        await progress
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    measureFrom = started + int(WARMUP_S * 1e9)
    measured = [t for t in log.firstSubscriber if t >= measureFrom]
    drops = {SKIPPED: log.skippedByFirst(measureFrom)}
    return RunResult(
        scenario.transport,
        scenario.source,
        size.label,
        scenario.subscribers,
        scenario.slow,
        False,
        scenario.seconds,
        len(measured),
        fpsOf(measured),
        drops,
        producerStages(log.table(measureFrom)),
        watch.usage(),
    )


async def _baselineSubscriber(
    subscription: MostRecentSubscription[tuple[int, int, Any]], log: SampleLog, first: bool
) -> None:
    while True:
        captured, announced, payload = await subscription.get()
        log.rows.append((captured, 0, announced, 0, time.monotonic_ns()))
        if first:
            log.firstSubscriber.append(captured)
        del payload
