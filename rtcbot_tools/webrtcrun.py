"""A profiler run through WebRTC: the synthetic camera sent by an RTCConnection in this
process to one in another process on this machine, each frame followed by the frame number
in its pixels (the test pattern's bar code) from capture to the far end's subscriber."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rtcbot.devices.testpattern import decodeStamp

from .scenarios import TOTAL, WARMUP_S, ProfilerError, RunResult, Scenario, fpsOf, openSource, watchFor
from .stages import StageStatistics
from .usage import UsageWatch

STAGES = (
    "capture → handed to the encoder",
    "handed → encoded and sent",
    "sent → decoded at the peer",
    "decoded → peer's subscriber resumed",
)


class EncoderTiming:
    """The camera as the encoder's source, noting per frame number its capture time, when
    the encoder took it, and when the encoder came back for the next one (the previous
    frame then is encoded and its packets sent)."""

    def __init__(self, camera: Any) -> None:
        self._subscription = camera.subscribe()
        self.taken: dict[int, tuple[int, int]] = {}
        self.sent: dict[int, int] = {}
        self._previous: int | None = None

    async def get(self) -> Any:
        """The camera's newest frame, timed."""
        asked = time.monotonic_ns()
        if self._previous is not None:
            self.sent[self._previous] = asked
        frame = await self._subscription.get()
        number = decodeStamp(frame)[0]
        self.taken[number] = (frame.timestamp, time.monotonic_ns())
        self._previous = number
        return frame


async def _startPeer() -> subprocess.Popen[str]:
    return await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "rtcbot_tools.webrtcpeer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def _signal(sender: Any, peer: subprocess.Popen[str]) -> None:
    assert peer.stdin is not None and peer.stdout is not None
    peer.stdin.write(json.dumps(await sender.getLocalDescription()) + "\n")
    peer.stdin.flush()
    answer = await asyncio.wait_for(asyncio.to_thread(peer.stdout.readline), 20)
    if not answer:
        raise ProfilerError("the WebRTC peer process ended before answering (see its error above)")
    await sender.setRemoteDescription(json.loads(answer))


def webrtcStages(rows: np.ndarray[Any, Any]) -> list[StageStatistics]:
    """Statistics of each stage from rows of (captured, taken, sent, decoded, resumed)."""
    columns = rows.T
    stages = [StageStatistics.of(name, columns[i + 1] - columns[i]) for i, name in enumerate(STAGES)]
    return stages + [StageStatistics.of(TOTAL, columns[4] - columns[0])]


async def runWebrtc(scenario: Scenario, tick: Callable[[float], None]) -> RunResult:
    """One run through a pair of RTCConnections in two processes (VP8)."""
    try:
        from rtcbot.webrtc import RTCConnection
    except ImportError as error:
        raise ProfilerError(f"--via webrtc needs the webrtc extra: pip install 'rtcbot[webrtc]' ({error})") from None
    watch = UsageWatch()
    watch.start(time.monotonic())
    camera = openSource(scenario)
    timing = EncoderTiming(camera)
    sender = RTCConnection(videoCodec="VP8")
    sender.video.addTrack(timing)
    reports: dict[int, tuple[int, int]] = {}
    sender.subscribe(lambda report: reports.__setitem__(report[0], (report[1], report[2])))
    peer = await _startPeer()
    try:
        await _signal(sender, peer)
        await asyncio.wait_for(asyncio.gather(camera.onReady(), sender.onReady()), 20)
        measureFrom = time.monotonic_ns() + int(WARMUP_S * 1e9)
        await watchFor(scenario.seconds + WARMUP_S, watch, tick)
        skipped = sender.video.statistics().framesSkipped
    finally:
        await sender.close()
        camera.close()
        await camera
        assert peer.stdin is not None and peer.stdout is not None
        peer.stdin.close()
        await asyncio.to_thread(peer.wait, 20)
        peer.stdout.close()
    rows = np.array(
        [
            (*timing.taken[n], timing.sent[n], *reports[n])
            for n in sorted(reports)
            if n in timing.taken and n in timing.sent
        ],
        dtype=np.int64,
    ).reshape(-1, 5)
    rows = rows[rows[:, 0] >= measureFrom]
    captured = [int(t) for t in rows[:, 0]]
    drops = {
        "skipped by the sender (newest frame only: encoder or link behind)": skipped,
        "sent but not decoded at the peer": sum(1 for n in timing.sent if n not in reports),
    }
    return RunResult(
        "webrtc",
        scenario.source,
        scenario.size.label,
        scenario.subscribers,
        scenario.slow,
        scenario.display,
        scenario.seconds,
        len(captured),
        fpsOf(captured),
        drops,
        webrtcStages(rows) if len(rows) else [],
        watch.usage(),
    )
