"""WebRTCServer's sessions: a page that reconnects (same X-RTCBot-Session) replaces its
earlier connection, which the server closes; the camera and microphone run on for the new
one, the old one holds none of their slots, and another page's connection is untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from rtcbot import SyntheticCamera, SyntheticMicrophone
from rtcbot.base import BaseSubscriptionProducer
from rtcbot.webrtc import CloseReason, RTCConnection
from rtcbot.webrtc.signalling import WebRTCServer

pytestmark = pytest.mark.loop_timeout(40)


async def _media(client: RTCConnection, frames: int, blocks: int) -> None:
    """Waits for ``frames`` video frames and ``blocks`` audio blocks from the robot."""
    video, audio = client.video.subscribe(), client.audio.subscribe()
    try:
        for _ in range(frames):
            await asyncio.wait_for(video.get(), 10)
        for _ in range(blocks):
            await asyncio.wait_for(audio.get(), 10)
    finally:
        client.video.unsubscribe(video)
        client.audio.unsubscribe(audio)


async def _connect(server: WebRTCServer, address: str, session: str) -> RTCConnection:
    """A page's connection (a Python peer standing in for rtcbot.js's postOffer), receiving
    video and audio, signalled with the server's token and ``session``."""
    client = RTCConnection()
    client.video.subscribe()
    client.audio.subscribe()
    offer = await client.getLocalDescription()
    headers = {"Authorization": f"Bearer {server.token}", "X-RTCBot-Session": session}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{address}/connect", json=offer, headers=headers) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
    await client.setRemoteDescription(answer)
    await asyncio.wait_for(client.onReady(), 10)
    return client


@asynccontextmanager
async def _robot() -> AsyncIterator[tuple[WebRTCServer, str, SyntheticCamera, SyntheticMicrophone]]:
    camera = SyntheticCamera(320, 240, fps=30)
    microphone = SyntheticMicrophone(frequency=1000, amplitude=0.4, blocksize=960)

    def onConnection(connection: RTCConnection) -> None:
        connection.video.putSubscription(camera)
        connection.audio.putSubscription(microphone)

    server = WebRTCServer("<!doctype html><title>robot</title>", onConnection)
    try:
        address = await server.start("127.0.0.1", 0)
        yield server, address, camera, microphone
    finally:
        await server.close()
        for device in (camera, microphone):
            device.close()
            await device


def _slotsInUse(device: BaseSubscriptionProducer[object]) -> int:
    return device.statistics().fromChild.slotsInUse  # type: ignore[attr-defined, no-any-return]


async def test_a_page_that_reconnects_replaces_its_connection_and_the_devices_run_on_for_the_new_one() -> None:
    async with _robot() as (server, address, camera, microphone):
        first = await _connect(server, address, "page-one")
        other = await _connect(server, address, "page-two")
        try:
            await _media(first, 5, 5)
            # The page came back (its old connection not yet noticed dead by the robot).
            again = await _connect(server, address, "page-one")
            try:
                await asyncio.wait_for(first.onClose(), 5)
                await _media(again, 30, 50)
                await _media(other, 5, 5)
                subscribers = camera.statistics().subscribers, microphone.statistics().subscribers
                held = _slotsInUse(camera), _slotsInUse(microphone)
                drops = camera.statistics().fromChild.dropped["slotsFull"]  # type: ignore[attr-defined]
                survivors = len(server.connections)
                otherOpen = not other.closed
            finally:
                await again.close()
        finally:
            await first.close()
            await other.close()
    assert first.closeReason is CloseReason.CLOSED_BY_PEER
    assert otherOpen, "another page's connection was closed"
    assert survivors == 2, "the server keeps the new connection and the other page's"
    assert subscribers == (2, 2), "the closed connection still subscribes to the camera or microphone"
    assert max(held) <= 4 and drops == 0, f"slots in use {held}, frames dropped for want of a slot {drops}"
