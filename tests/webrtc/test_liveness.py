"""Heartbeats: a vanished peer (killed, gone silent, its link cut) is noticed within about a
second, with a cause that can be told apart from a close; a short silence is degraded, then
recovered. The kills and link cuts run against a real peer process in its own network
namespace."""

from __future__ import annotations

import asyncio
import time

import pytest

from rtcbot import SyntheticCamera
from rtcbot.webrtc import CloseReason, LinkState, PeerGone, RTCConnection

from .netns import remoteHost
from .peers import connectedPair
from .test_remote import _exchange, _offeringConnection, remotePeer

pytestmark = [pytest.mark.loop_timeout(60), pytest.mark.timeout(90)]

#: What the defaults must achieve, with room for a loaded machine (the benchmark measures).
NOTICED_WITHIN = 1.5


async def _heartbeating(connection: RTCConnection) -> None:
    while connection.linkState is not LinkState.ALIVE:
        await asyncio.wait_for(connection.onReady(), 10)
        await asyncio.sleep(0.05)  # the first heartbeat comes within one interval of the channel opening


async def test_a_peer_that_goes_silent_is_degraded_then_gone_with_PeerGone() -> None:
    async with connectedPair() as (c1, c2):
        await _heartbeating(c1)
        changes: list[tuple[str, float]] = []
        c1.onDegraded(lambda: changes.append(("degraded", time.monotonic())))
        c1.onError(lambda error: changes.append((type(error).__name__, time.monotonic())))
        silent = time.monotonic()
        c2._liveness.stop()  # c2's process is stuck (its loop no longer runs its timers)
        await asyncio.wait_for(c1.onClose(), 5)
    assert [name for name, _ in changes] == ["degraded", "PeerGone"]
    assert changes[0][1] - silent < changes[1][1] - silent < NOTICED_WITHIN
    assert isinstance(c1.error, PeerGone) and isinstance(c1.error, ConnectionError)
    assert c1.closeReason is CloseReason.PEER_GONE and c1.linkState is LinkState.GONE
    assert c2.closeReason is CloseReason.CLOSED_BY_PEER


async def test_closing_is_told_apart_from_the_peer_closing() -> None:
    async with connectedPair() as (c1, c2):
        await _heartbeating(c2)
        c1.close()
        await asyncio.wait_for(c2.onClose(), 5)
    assert (c1.closeReason, c1.error) == (CloseReason.CLOSED_HERE, None)
    assert (c2.closeReason, c2.error) == (CloseReason.CLOSED_BY_PEER, None)


async def test_a_short_silence_is_degraded_then_recovered_and_the_connection_lives_on() -> None:
    async with connectedPair(heartbeatInterval=0.1, deadAfter=1.0) as (c1, c2):
        await _heartbeating(c1)
        events: list[str] = []
        recovered = asyncio.Event()
        c1.onDegraded(lambda: events.append("degraded"))
        c1.onRecovered(lambda: (events.append("recovered"), recovered.set()))
        c2._liveness.stop()
        await asyncio.sleep(0.7)  # the silence itself: longer than deadAfter / 2, shorter than deadAfter
        c2._liveness.start()
        await asyncio.wait_for(recovered.wait(), 2)
        assert events == ["degraded", "recovered"] and not c1.closed and c1.linkState is LinkState.ALIVE
        assert c1.livenessStatistics().degradations == 1 and c1.livenessStatistics().longestSilence > 0.5


async def test_the_heartbeat_is_a_few_bytes_per_interval() -> None:
    async with connectedPair() as (c1, c2):
        await _heartbeating(c1)
        before = c1.livenessStatistics()
        started = time.monotonic()
        await asyncio.sleep(1.0)
        after = c1.livenessStatistics()
        elapsed = time.monotonic() - started
    rate = (after.sent - before.sent) / elapsed
    assert 3 <= rate <= 6, f"{rate:.1f} heartbeats per second, expected 5 (one byte each)"


def test_times_that_would_end_a_connection_for_one_late_beat_are_refused() -> None:
    with pytest.raises(ValueError, match="at least twice heartbeatInterval"):
        RTCConnection(heartbeatInterval=0.5, deadAfter=0.6)
    with pytest.raises(ValueError, match="heartbeatInterval must be positive"):
        RTCConnection(heartbeatInterval=0)


@pytest.mark.parametrize("vanishing", ["killed", "link cut"])
async def test_a_peer_on_another_host_that_vanishes_is_noticed_within_a_second(vanishing: str) -> None:
    camera = SyntheticCamera(width=320, height=240, fps=30)
    try:
        async with remoteHost() as host:
            connection = _offeringConnection(camera)
            async with remotePeer(host, connection) as peer:
                await _exchange(connection, 1)
                await _heartbeating(connection)
                if vanishing == "killed":
                    await asyncio.to_thread(peer.kill)
                else:
                    await asyncio.to_thread(host.setLink, False)
                vanished = time.monotonic()
                await asyncio.wait_for(connection.onClose(), 10)
                noticed = time.monotonic() - vanished
                if vanishing == "link cut":
                    await asyncio.to_thread(host.setLink, True)
                await asyncio.wait_for(connection, 20)
    finally:
        camera.close()
        await camera
    assert isinstance(connection.error, PeerGone) and connection.closeReason is CloseReason.PEER_GONE
    assert noticed < NOTICED_WITHIN, f"the vanished peer was noticed after {noticed:.2f} s"
