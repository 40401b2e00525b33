"""The soak: camera → 4 subscribers → display, and microphone → speaker, for as long as you
like, with a report every interval: frames, drops, latency percentiles, and every process's
memory over time. Without a display or a sound server it starts its own (Xvfb, PulseAudio
with a null sink), as the tests do.

    scripts/soak [--seconds 600] [--interval 60] [--size 640x480] [--fps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from rtcbot import CVDisplay, Microphone, MostRecentSubscription, Speaker, SyntheticCamera
from rtcbot_tools.stages import HISTOGRAM_EDGES_US
from rtcbot_tools.usage import UsageWatch

from ..rigs import AudioRig, XDisplay


class Interval:
    """What the subscribers saw since the last report."""

    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.frames = 0


async def subscriber(camera: SyntheticCamera, interval: list[Interval]) -> None:
    subscription = camera.subscribe(MostRecentSubscription())
    while True:
        frame = await subscription.get()
        interval[0].latencies.append(time.monotonic_ns() - frame.timestamp)
        interval[0].frames += 1
        del frame


class LatencyHistogram:
    """All latencies of the soak in fixed memory: 20 log-spaced bins per decade (so its
    percentiles are good to about 6 %), from 1 µs to 10 s."""

    def __init__(self) -> None:
        self.counts = np.zeros(len(HISTOGRAM_EDGES_US) - 1, np.int64)
        self.maximum = 0

    def add(self, nanoseconds: list[int]) -> None:
        if nanoseconds:
            values = np.clip(np.array(nanoseconds) / 1000, HISTOGRAM_EDGES_US[0], HISTOGRAM_EDGES_US[-1] * 0.999)
            self.counts += np.histogram(values, HISTOGRAM_EDGES_US)[0]
            self.maximum = max(self.maximum, max(nanoseconds))

    def summary(self) -> str:
        total = int(self.counts.sum())
        if not total:
            return "no samples"
        cumulative = np.cumsum(self.counts) / total
        upper = HISTOGRAM_EDGES_US[1:] / 1000
        marks = {
            name: min(upper[int(np.searchsorted(cumulative, share))], self.maximum / 1e6)
            for name, share in (("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999))
        }
        return (
            f"{total} deliveries; at most p50 {marks['p50']:.2f} ms, p99 {marks['p99']:.2f} ms, "
            f"p99.9 {marks['p99.9']:.2f} ms (bin edges); max {self.maximum / 1e6:.2f} ms"
        )


def percentilesMs(values: list[int]) -> str:
    if not values:
        return "no samples"
    p50, p99, p999 = np.percentile(np.array(values) / 1e6, [50, 99, 99.9])
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, p99.9 {p999:.2f} ms, max {max(values) / 1e6:.2f} ms"


async def soak(seconds: float, every: float, width: int, height: int, fps: float) -> None:
    camera = SyntheticCamera(width, height, fps=fps)
    display = CVDisplay("soak", reportTiming=True)
    display.putSubscription(camera)
    microphone, speaker = Microphone(channels=1), Speaker(channels=1)
    speaker.putSubscription(microphone)
    interval = [Interval()]
    readers = [asyncio.ensure_future(subscriber(camera, interval)) for _ in range(4)]
    watch = UsageWatch()
    watch.start(time.monotonic())
    everything = (camera, display, microphone, speaker)
    try:
        await asyncio.gather(*(device.onReady() for device in everything))
        started = time.monotonic()
        firstMemory: dict[str, float] = {}
        publishedBefore = camera.statistics().published
        overall = LatencyHistogram()
        while (elapsed := time.monotonic() - started) < seconds:
            await asyncio.sleep(min(every, seconds - elapsed))
            watch.sample(time.monotonic())
            seen, interval[0] = interval[0], Interval()
            shown = display.takeTimings()
            overall.add(seen.latencies)
            memory = {usage.name: usage.rssMb for usage in watch.usage()}
            for name, value in memory.items():
                firstMemory.setdefault(name, value)
            published, transport = camera.statistics().published, camera.statistics().fromChild.dropped
            mic, out = microphone.audioStatus, speaker.audioStatus
            print(
                f"[{time.monotonic() - started:7.1f} s] camera: {published - publishedBefore} frames, "
                f"{transport['slotsFull']} dropped in transport; 4 subscribers: {seen.frames} deliveries, "
                f"{percentilesMs(seen.latencies)}"
            )
            publishedBefore = published
            print(
                f"           display: {len(shown)} shown, capture → shown "
                f"{percentilesMs([row.shown - row.captured for row in shown])}"
            )
            if mic is not None and out is not None:
                print(
                    f"           microphone → speaker: {microphone.statistics().published} blocks, mic overflows "
                    f"{mic.overflows}, speaker underruns {out.underruns}, trimmed {out.framesTrimmed} samples"
                )
            print(
                "           resident memory (MB): "
                + ", ".join(f"{name} {value:.1f}" for name, value in memory.items()),
                flush=True,
            )
            for device in everything:
                if device.closed:
                    raise SystemExit(f"{type(device).__name__} closed: {device.error}")
        print(f"\nsoak of {seconds:g} s: camera → subscribers {overall.summary()}")
        final = {usage.name: usage.rssMb for usage in watch.usage()}
        print(
            "resident memory growth since the first report (MB): "
            + ", ".join(f"{name} {final[name] - firstMemory.get(name, final[name]):+.1f}" for name in final)
        )
    finally:
        for reader in readers:
            reader.cancel()
        for device in everything:
            device.close()
        await asyncio.gather(*everything)


def _stop(signalNumber: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description="camera → 4 subscribers → display, and microphone → speaker")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--interval", type=float, default=60, help="seconds between reports")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=float, default=30)
    arguments = parser.parse_args()
    width, height = (int(part) for part in arguments.size.split("x"))
    signal.signal(signal.SIGTERM, _stop)  # stop as cleanly as on Ctrl-C: rigs and children too
    with ExitStack() as rigs:
        if not os.environ.get("DISPLAY"):
            display = XDisplay.start()
            rigs.callback(display.stop)
            os.environ["DISPLAY"] = display.display
            print(f"started Xvfb on {display.display}")
        if not (os.environ.get("PULSE_SERVER") or Path("/run/user", str(os.getuid()), "pulse").exists()):
            audio = AudioRig.start(Path(rigs.enter_context(tempfile.TemporaryDirectory())))
            rigs.callback(audio.stop)
            os.environ.update(audio.environment)
            print("started PulseAudio with a null sink (the speaker plays into what the microphone records)")
        try:
            asyncio.run(soak(arguments.seconds, arguments.interval, width, height, arguments.fps))
        except KeyboardInterrupt:
            print("stopped early")


if __name__ == "__main__":
    main()
