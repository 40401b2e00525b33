"""A child forked after WebRTC ran in this process starts: aiortc's threads converted frames
with PyAV, whose per-thread swscale contexts a forked child used to free, and hang on, while
Python discarded those threads' states inside ``fork()``."""

from __future__ import annotations

import asyncio

import pytest

from rtcbot import SyntheticCamera
from rtcbot.webrtc import RTCConnection

from .peers import connectedPair

pytestmark = pytest.mark.loop_timeout(60)

FORKS = 10


async def test_cameras_forked_after_a_webrtc_exchange_all_become_ready() -> None:
    camera = SyntheticCamera(width=320, height=240, fps=30, startMethod="fork")

    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        c1.video.putSubscription(camera)
        c2.video.subscribe()

    try:
        async with connectedPair(prepare) as (_, c2):
            frames = c2.video.subscribe()
            for _ in range(30):  # decoded and converted in aiortc's threads
                await asyncio.wait_for(frames.get(), 10)
            for attempt in range(FORKS):
                forked = SyntheticCamera(64, 48, fps=30, startMethod="fork")
                try:
                    await asyncio.wait_for(forked.onReady(), 5)
                except TimeoutError:
                    pytest.fail(f"fork {attempt + 1} of {FORKS} after WebRTC never became ready")
                finally:
                    forked.close()
                    await asyncio.wait_for(forked, 10)
    finally:
        camera.close()
        await camera
