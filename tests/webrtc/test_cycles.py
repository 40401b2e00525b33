"""Connecting and disconnecting many times leaves file descriptors and memory flat."""

from __future__ import annotations

import asyncio
import gc
import os

import pytest

from rtcbot import SyntheticCamera
from rtcbot.webrtc import RTCConnection
from rtcbot_tools.usage import residentMb

from .peers import connectedPair


def _openFds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _cycle(camera: SyntheticCamera) -> None:
    def prepare(c1: RTCConnection, c2: RTCConnection) -> None:
        c1.video.putSubscription(camera)
        c2.video.subscribe()

    async with connectedPair(prepare) as (c1, c2):
        c1.put_nowait("ping")
        assert await asyncio.wait_for(c2.get(), 10) == "ping"
        await asyncio.wait_for(c2.video.get(), 10)


@pytest.mark.loop_timeout(90)
@pytest.mark.timeout(120)
async def test_twenty_connect_disconnect_cycles_leave_fds_and_memory_flat() -> None:
    camera = SyntheticCamera(width=320, height=240, fps=30)
    try:
        for _ in range(40):  # warm up: codecs, pools and allocator arenas settle (~30 MB here)
            await _cycle(camera)
        await asyncio.to_thread(gc.collect)
        fds, memory = _openFds(), residentMb()
        for _ in range(20):
            await _cycle(camera)
        await asyncio.to_thread(gc.collect)
        assert _openFds() == fds
        grown = residentMb() - memory
        assert grown < 2, f"resident memory grew by {grown:.1f} MB over 20 connections"
    finally:
        camera.close()
        await camera
