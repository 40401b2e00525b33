"""Transport benchmark: rtcbot's shared-memory transport against rawshm (the bare
minimum) and pickle (RTCBot 0.2.5's mp.Queue), measured in the same run.

    .venv/bin/python -m bench.transport [--seconds 2] [--json transport.json] [--quick]

Prints a table and the ratios that design.md's targets are stated in, and writes JSON.
The machine is shared and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rtcbot import Frame, MostRecentSubscription
from rtcbot.base import ProcessSubscriptionProducer, ProcessSubscriptionProducerConsumer
from rtcbot_tools.baselines import pace, pickleFromChild, pickleToChild, rawFromChild, rawToChild, sourceFrames
from rtcbot_tools.stages import percentiles

#: Samples captured in the first WARMUP_NS of a run (ring set-up, page faults) are left out.
WARMUP_NS = 300_000_000

SIZES: dict[str, tuple[tuple[int, ...], str]] = {
    "audio 480x2 f32": ((480, 2), "float32"),
    "64 KB": ((128, 128, 4), "uint8"),
    "640x480x3": ((480, 640, 3), "uint8"),
    "1920x1080x3": ((1080, 1920, 3), "uint8"),
    "8 MB": ((1024, 2048, 4), "uint8"),
}


@dataclass
class Result:
    transport: str
    direction: str
    size: str
    mode: str
    subscribers: int
    frames: int
    seconds: float
    fps: float
    latencyUs: dict[str, float]
    announcedToResumedUs: dict[str, float] = field(default_factory=dict)
    cpuUsPerFrame: float = 0.0
    dropped: int = 0
    note: str = ""


def stamp(array: np.ndarray[Any, Any]) -> None:
    """Writes the current monotonic time into the first 8 bytes of ``array``."""
    array.reshape(-1).view(np.uint8)[:8] = np.frombuffer(np.int64(time.monotonic_ns()).tobytes(), np.uint8)


def stampOf(array: np.ndarray[Any, Any]) -> int:
    """The time :func:`stamp` wrote into ``array``."""
    return int(np.frombuffer(array.reshape(-1).view(np.uint8)[:8].tobytes(), np.int64)[0])


class BenchSource(ProcessSubscriptionProducer[Any]):
    """Publishes arrays (or small dicts) for ``seconds``, paced at ``fps`` (0: flat out)."""

    def __init__(self, shape: tuple[int, ...], dtype: str, fps: float, seconds: float, items: bool) -> None:
        self.shape, self.dtype, self.fps, self.seconds, self.items = shape, dtype, fps, seconds, items
        super().__init__(slotCount=8)

    def _producer(self) -> None:
        frames = sourceFrames(self.shape, self.dtype)
        self._setReady(True)
        start = time.monotonic()
        index = 0
        while time.monotonic() - start < self.seconds and not self._shouldClose:
            pace(start, index, self.fps)
            if self.items:
                self._put_nowait({"t": time.monotonic_ns(), "i": index})
            else:
                self._put_nowait(frames[index % 4])
            index += 1
        self._put_nowait({"attempted": index})


class BenchSink(ProcessSubscriptionProducerConsumer[Any, Any]):
    """Receives arrays (stamped in their first bytes) or dicts; reports latencies on request."""

    def __init__(self) -> None:
        super().__init__(slotCount=8)

    def _producerConsumer(self) -> None:
        self._setReady(True)
        latencies: list[int] = []
        while True:
            item = self._get()
            now = time.monotonic_ns()
            if isinstance(item, str):
                self._put_nowait(latencies)
                latencies = []
            elif isinstance(item, dict):
                latencies.append(now - item["t"])
            else:
                latencies.append(now - stampOf(item))


async def rtcbotFromChild(
    shape: tuple[int, ...],
    dtype: str,
    fps: float,
    seconds: float,
    subscribers: int,
    items: bool = False,
    slow: bool = False,
    callbacks: bool = False,
) -> Result:
    """``subscribers`` coroutines each reading its own queue, or with ``callbacks`` plain
    functions called during delivery (the cheapest kind: isolates the fan-out's cost)."""
    source = BenchSource(shape, dtype, fps, seconds, items)
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(subscribers)]
    endToEnd: list[int] = []
    transport: list[int] = []
    done = asyncio.get_running_loop().create_future()
    counts = [0] * subscribers

    warmupEnds = 0

    async def subscriber(index: int, queue: asyncio.Queue[Any]) -> None:
        nonlocal warmupEnds
        while True:
            item = await queue.get()
            now = time.monotonic_ns()
            if isinstance(item, dict) and "attempted" in item:
                if index == 0:
                    done.set_result(item["attempted"])
                return
            counts[index] += 1
            captured = item.timestamp if isinstance(item, Frame) else item["t"]
            warmupEnds = warmupEnds or captured + WARMUP_NS
            if index == 0 and captured >= warmupEnds:
                endToEnd.append(now - captured)
                if isinstance(item, Frame):
                    transport.append(now - item.announcedNs)
            del item

    async def slowSubscriber(latest: MostRecentSubscription[Any]) -> None:
        while True:
            await latest.get()  # takes the newest frame and lets it go: holds no slot
            await asyncio.sleep(1.0)

    def callback(index: int) -> Callable[[Any], None]:
        def onItem(item: Any) -> None:
            if isinstance(item, dict) and "attempted" in item:
                if index == 0:
                    done.set_result(item["attempted"])
                return
            counts[index] += 1
            if index == 0:
                endToEnd.append(time.monotonic_ns() - item.timestamp)

        return onItem

    if callbacks:
        for index in range(subscribers):
            source.subscribe(callback(index))
        tasks = []
    else:
        for queue in queues:
            source.subscribe(queue)
        tasks = [asyncio.ensure_future(subscriber(i, q)) for i, q in enumerate(queues)]
    await source.onReady()
    if slow:
        tasks.append(asyncio.ensure_future(slowSubscriber(source.subscribe(MostRecentSubscription()))))
    cpuStart, wallStart = time.process_time(), time.monotonic()
    attempted = await done
    cpu, wall = time.process_time() - cpuStart, time.monotonic() - wallStart
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stats = source.statistics()
    source.close()
    await source
    return Result(
        "rtcbot",
        "child->parent",
        "",
        "",
        subscribers,
        counts[0],
        wall,
        counts[0] / wall,
        percentiles(endToEnd),
        percentiles(transport),
        cpu * 1e6 / max(counts[0], 1),
        stats.fromChild.dropped["slotsFull"],
        ("callbacks; " if callbacks else "") + f"child attempted {attempted}",
    )


async def baselineFromChild(
    name: str,
    run: Callable[..., Awaitable[int]],
    shape: tuple[int, ...],
    dtype: str,
    fps: float,
    seconds: float,
    subscribers: int,
) -> Result:
    """The same measurement through rawshm or the pickled queue."""
    queues: list[asyncio.Queue[tuple[int, int]]] = [asyncio.Queue() for _ in range(subscribers)]
    endToEnd: list[int] = []
    transport: list[int] = []
    counts = [0] * subscribers
    warmupEnds = 0

    def deliver(captured: int, announced: int, payload: Any) -> None:
        for queue in queues:
            queue.put_nowait((captured, announced))

    async def subscriber(index: int, queue: asyncio.Queue[tuple[int, int]]) -> None:
        nonlocal warmupEnds
        while True:
            captured, announced = await queue.get()
            now = time.monotonic_ns()
            counts[index] += 1
            warmupEnds = warmupEnds or captured + WARMUP_NS
            if index == 0 and captured >= warmupEnds:
                endToEnd.append(now - captured)
                if announced:
                    transport.append(now - announced)

    tasks = [asyncio.ensure_future(subscriber(i, q)) for i, q in enumerate(queues)]
    cpuStart, wallStart = time.process_time(), time.monotonic()
    await run(shape, dtype, fps, seconds, deliver)
    await asyncio.sleep(0)
    cpu, wall = time.process_time() - cpuStart, time.monotonic() - wallStart
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return Result(
        name,
        "child->parent",
        "",
        "",
        subscribers,
        counts[0],
        wall,
        counts[0] / wall,
        percentiles(endToEnd),
        percentiles(transport),
        cpu * 1e6 / max(counts[0], 1),
    )


async def rtcbotToChild(shape: tuple[int, ...], dtype: str, fps: float, seconds: float, items: bool = False) -> Result:
    """Parent → child through a process consumer: rate and latency at the child."""
    sink = BenchSink()
    replies = sink.subscribe()
    await sink.onReady()
    frames = sourceFrames(shape, dtype)
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        if fps:
            await asyncio.sleep(max(0.0, start + index / fps - time.monotonic()))
        if items:
            sink.put_nowait({"t": time.monotonic_ns(), "i": index})
        else:
            frame = frames[index % 4]
            stamp(frame)
            sink.put_nowait(frame)
        index += 1
        await asyncio.sleep(0)
    wall = time.monotonic() - start
    sink.put_nowait("report")
    latencies = await replies.get()
    stats = sink.statistics().toChild
    sink.close()
    await sink
    return Result(
        "rtcbot",
        "parent->child",
        "",
        "",
        1,
        len(latencies),
        wall,
        len(latencies) / wall,
        percentiles(latencies),
        dropped=stats.dropped["slotsFull"],
        note=f"parent offered {index}",
    )


async def rawToChildResult(shape: tuple[int, ...], dtype: str, fps: float, seconds: float) -> Result:
    """Parent → child through rawshm."""
    start = time.monotonic()
    latencies = await rawToChild(shape, dtype, fps, seconds)
    wall = time.monotonic() - start
    return Result(
        "rawshm", "parent->child", "", "", 1, len(latencies), wall, len(latencies) / wall, percentiles(latencies)
    )


async def pickleToChildResult(shape: tuple[int, ...], dtype: str, fps: float, seconds: float) -> Result:
    """Parent → child through RTCBot 0.2.5's pickled queue."""
    start = time.monotonic()
    latencies, dropped = await pickleToChild(shape, dtype, fps, seconds)
    wall = time.monotonic() - start
    return Result(
        "pickle",
        "parent->child",
        "",
        "",
        1,
        len(latencies),
        wall,
        len(latencies) / wall,
        percentiles(latencies),
        dropped=dropped,
    )


def labelled(result: Result, size: str, mode: str) -> Result:
    """``result`` with its size and mode names filled in."""
    result.size, result.mode = size, mode
    return result


async def runAll(seconds: float, quick: bool, progress: Callable[[str], None]) -> list[Result]:
    """Every measurement of the benchmark, reporting each start to ``progress``."""
    results: list[Result] = []
    sizes = ["audio 480x2 f32", "1920x1080x3"] if quick else list(SIZES)
    paced = 30.0
    pacedSeconds = max(2 * seconds, 4.0)

    async def step(label: str, job: Awaitable[Result], size: str, mode: str) -> None:
        progress(label)
        results.append(labelled(await job, size, mode))

    for size in sizes:  # flat out, child -> parent, one subscriber
        shape, dtype = SIZES[size]
        await step(f"max {size} rtcbot", rtcbotFromChild(shape, dtype, 0, seconds, 1), size, "max")
        await step(
            f"max {size} rawshm", baselineFromChild("rawshm", rawFromChild, shape, dtype, 0, seconds, 1), size, "max"
        )
        await step(
            f"max {size} pickle", baselineFromChild("pickle", pickleFromChild, shape, dtype, 0, seconds, 1), size, "max"
        )
    for size in ["640x480x3", "1920x1080x3"]:  # paced latency, child -> parent
        shape, dtype = SIZES[size]
        await step(f"30fps {size} rtcbot", rtcbotFromChild(shape, dtype, paced, pacedSeconds, 1), size, "30fps")
        await step(
            f"30fps {size} rawshm",
            baselineFromChild("rawshm", rawFromChild, shape, dtype, paced, pacedSeconds, 1),
            size,
            "30fps",
        )
        await step(
            f"30fps {size} pickle",
            baselineFromChild("pickle", pickleFromChild, shape, dtype, paced, pacedSeconds, 1),
            size,
            "30fps",
        )
    for size in ["64 KB", "8 MB"]:  # announced -> resumed across sizes (1080p is above)
        shape, dtype = SIZES[size]
        await step(f"30fps {size} rtcbot", rtcbotFromChild(shape, dtype, paced, pacedSeconds, 1), size, "30fps")
        await step(
            f"30fps {size} rawshm",
            baselineFromChild("rawshm", rawFromChild, shape, dtype, paced, pacedSeconds, 1),
            size,
            "30fps",
        )
    shape, dtype = SIZES["1920x1080x3"]
    await step("max 1080p rtcbot 4 subscribers", rtcbotFromChild(shape, dtype, 0, seconds, 4), "1920x1080x3", "max")
    await step(
        "max 1080p rtcbot 1 callback",
        rtcbotFromChild(shape, dtype, 0, seconds, 1, callbacks=True),
        "1920x1080x3",
        "max callbacks",
    )
    await step(
        "max 1080p rtcbot 4 callbacks",
        rtcbotFromChild(shape, dtype, 0, seconds, 4, callbacks=True),
        "1920x1080x3",
        "max callbacks",
    )
    await step(
        "30fps 1080p rtcbot 4 subscribers",
        rtcbotFromChild(shape, dtype, paced, pacedSeconds, 4),
        "1920x1080x3",
        "30fps",
    )
    await step(
        "30fps 1080p rtcbot 4 subscribers + slow",
        rtcbotFromChild(shape, dtype, paced, pacedSeconds, 4, slow=True),
        "1920x1080x3",
        "30fps+slow",
    )
    await step("max items rtcbot", rtcbotFromChild((1,), "uint8", 0, seconds, 1, items=True), "small dict", "max")
    for size in sizes:  # parent -> child
        shape, dtype = SIZES[size]
        await step(f"max {size} rtcbot to child", rtcbotToChild(shape, dtype, 0, seconds), size, "max")
        await step(f"max {size} rawshm to child", rawToChildResult(shape, dtype, 0, seconds), size, "max")
        await step(f"max {size} pickle to child", pickleToChildResult(shape, dtype, 0, seconds), size, "max")
    await step("max items rtcbot to child", rtcbotToChild((1,), "uint8", 0, seconds, items=True), "small dict", "max")
    return results


def find(
    results: list[Result], transport: str, direction: str, size: str, mode: str, subscribers: int = 1
) -> Result | None:
    """The result of one setting, if it was measured."""
    for result in results:
        if (result.transport, result.direction, result.size, result.mode, result.subscribers) == (
            transport,
            direction,
            size,
            mode,
            subscribers,
        ):
            return result
    return None


def targets(results: list[Result]) -> list[tuple[str, str, bool | None]]:
    """design.md's numbers, as (what, measured, met)."""
    checks: list[tuple[str, str, bool | None]] = []
    up, down = "child->parent", "parent->child"

    def ratio(
        what: str, a: Result | None, b: Result | None, key: Callable[[Result], float], limit: float, atLeast: bool
    ) -> None:
        if a is None or b is None or not key(b):
            return
        value = key(a) / key(b)
        checks.append((what, f"{value:.2f}", value >= limit if atLeast else value <= limit))

    fps: Callable[[Result], float] = lambda r: r.fps  # noqa: E731
    p50: Callable[[Result], float] = lambda r: r.latencyUs["p50"]  # noqa: E731
    hd = "1920x1080x3"
    # (what, transport, baseline, mode, key, limit, at least): at 1080p, child -> parent.
    for what, transport, baseline, mode, key, limit, atLeast in (
        ("1080p max fps: rtcbot / rawshm (>= 0.50)", "rtcbot", "rawshm", "max", fps, 0.5, True),
        ("1080p max fps: rawshm / pickle (~45x on the design box)", "rawshm", "pickle", "max", fps, 0, True),
        ("1080p max fps: rtcbot / pickle", "rtcbot", "pickle", "max", fps, 0, True),
        ("1080p30 latency p50: rtcbot / rawshm (<= 2.0)", "rtcbot", "rawshm", "30fps", p50, 2.0, False),
    ):
        ratio(what, find(results, transport, up, hd, mode), find(results, baseline, up, hd, mode), key, limit, atLeast)
    paced = find(results, "rtcbot", up, hd, "30fps")
    if paced:
        checks.append(
            (
                "1080p30 latency p99 rtcbot (<= 2000 us)",
                f"{paced.latencyUs['p99']:.0f} us",
                paced.latencyUs["p99"] <= 2000,
            )
        )
    resumed = [find(results, "rtcbot", up, size, "30fps") for size in ("64 KB", hd, "8 MB")]
    medians = [r.announcedToResumedUs["p50"] for r in resumed if r is not None]
    if len(medians) == 3:
        flat = max(medians) / min(medians)
        checks.append(
            (
                "announced -> resumed p50, 64 KB / 1080p / 8 MB (<= 50 us)",
                " / ".join(f"{m:.0f}" for m in medians),
                max(medians) <= 50,
            )
        )
        checks.append(("  same, max/min across sizes (<= 1.10)", f"{flat:.2f}", flat <= 1.10))
    rawResumed = [find(results, "rawshm", up, size, "30fps") for size in ("64 KB", hd, "8 MB")]
    rawMedians = [r.announcedToResumedUs["p50"] for r in rawResumed if r is not None and r.announcedToResumedUs]
    if len(rawMedians) == 3:
        checks.append(
            (
                "  rawshm's own pipe wake-up, same sizes (for reference)",
                " / ".join(f"{m:.0f}" for m in rawMedians),
                None,
            )
        )
    ratio(
        "CPU per frame in the parent, 4 callback subscribers / 1 (<= 1.10)",
        find(results, "rtcbot", up, hd, "max callbacks", 4),
        find(results, "rtcbot", up, hd, "max callbacks"),
        lambda r: r.cpuUsPerFrame,
        1.10,
        False,
    )
    ratio(
        "  same with 4 coroutine subscribers, each resumed per frame / 1",
        find(results, "rtcbot", up, hd, "max", 4),
        find(results, "rtcbot", up, hd, "max"),
        lambda r: r.cpuUsPerFrame,
        1.10,
        False,
    )
    items = find(results, "rtcbot", up, "small dict", "max")
    if items:
        checks.append(("small items child -> parent (>= 20000/s)", f"{items.fps:.0f}/s", items.fps >= 20000))
    itemsDown = find(results, "rtcbot", down, "small dict", "max")
    if itemsDown:
        checks.append(("small items parent -> child (>= 20000/s)", f"{itemsDown.fps:.0f}/s", itemsDown.fps >= 20000))
    ratio(
        "1080p parent -> child fps: rtcbot / rawshm (>= 0.50)",
        find(results, "rtcbot", down, hd, "max"),
        find(results, "rawshm", down, hd, "max"),
        fps,
        0.5,
        True,
    )
    ratio(
        "slow subscriber: others' p99 with / without (<= 1.10)",
        find(results, "rtcbot", up, hd, "30fps+slow", 4),
        find(results, "rtcbot", up, hd, "30fps", 4),
        lambda r: r.latencyUs["p99"],
        1.10,
        False,
    )
    return checks


def table(results: list[Result]) -> str:
    """The results as a fixed-width table."""
    lines = [
        f"{'transport':8} {'direction':14} {'size':16} {'mode':13} {'subs':>4} {'frames':>7} {'fps':>9} "
        f"{'p50 us':>9} {'p99 us':>9} {'max us':>9} {'ann->res p50':>12} {'cpu us/fr':>9} {'drop':>6}"
    ]
    for r in results:
        lines.append(
            f"{r.transport:8} {r.direction:14} {r.size:16} {r.mode:13} {r.subscribers:>4} {r.frames:>7} {r.fps:>9.1f} "
            f"{r.latencyUs.get('p50', 0):>9.1f} {r.latencyUs.get('p99', 0):>9.1f} {r.latencyUs.get('max', 0):>9.1f} "
            f"{r.announcedToResumedUs.get('p50', 0):>12.1f} {r.cpuUsPerFrame:>9.1f} {r.dropped:>6}"
        )
    return "\n".join(lines)


def main() -> None:
    """Runs the transport benchmark, prints the table and the targets, writes JSON."""
    parser = argparse.ArgumentParser(description="rtcbot transport benchmark (see module docstring)")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each flat-out run (default 2)")
    parser.add_argument("--json", default="transport-benchmark.json", help="where to write the results")
    parser.add_argument("--quick", action="store_true", help="fewer sizes: audio block and 1080p only")
    arguments = parser.parse_args()
    if arguments.seconds <= 0:
        parser.error("--seconds must be positive")

    def progress(label: str) -> None:
        print(f"  running {label} ...", file=sys.stderr, flush=True)

    results = asyncio.run(runAll(arguments.seconds, arguments.quick, progress))
    checks = targets(results)
    print(table(results))
    print()
    for what, measured, met in checks:
        print(f"{'ok  ' if met else 'MISS' if met is False else '    '} {what}: {measured}")
    report = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "results": [asdict(r) for r in results],
        "targets": [{"what": w, "measured": m, "met": ok} for w, m, ok in checks],
    }
    with open(arguments.json, "w") as out:
        json.dump(report, out, indent=2)
    print(f"\nJSON written to {arguments.json}")


if __name__ == "__main__":
    main()
