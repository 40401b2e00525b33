"""Whether the peer is still there: heartbeats both ways on a data channel of their own, and
the silence watched, so a vanished peer (killed, its tab closed, its link cut) is noticed in
under a second instead of ICE's 30."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

#: The heartbeat channel: negotiated out of band (both sides create it with this id), so it
#: needs no announcement; unordered and never retransmitted, as a late beat is worth nothing.
HEARTBEAT_CHANNEL = "rtcbot-heartbeat"
HEARTBEAT_CHANNEL_ID = 1001
HEARTBEAT = b"\x01"

DEFAULT_HEARTBEAT_INTERVAL = 0.2
DEFAULT_DEAD_AFTER = 0.8


class LinkState(enum.Enum):
    """What the heartbeats say about the peer."""

    WAITING = "waiting"
    """No heartbeat heard yet (the link is not up, or the peer sends none: then only WebRTC's
    own checks, about 30 s, can tell it has gone)."""
    ALIVE = "alive"
    DEGRADED = "degraded"
    """Nothing heard for ``degradedAfter`` seconds: slow down, it may be gone."""
    GONE = "gone"
    """Nothing heard for ``deadAfter`` seconds: the connection closes with ``PeerGone``."""


@dataclass(frozen=True)
class LivenessStatistics:
    """A snapshot of the heartbeats."""

    state: LinkState
    sent: int
    received: int
    degradations: int
    """Times the link became degraded (and recovered or died after)."""
    longestSilence: float
    """The longest time between two heartbeats heard, in seconds."""
    stalls: int
    """Times the deadline was checked late (this process did not run): given one more interval."""


def checkTimes(heartbeatInterval: float, deadAfter: float) -> None:
    """``ValueError`` unless the peer can miss a few beats before it is declared gone."""
    if not heartbeatInterval > 0:
        raise ValueError(f"heartbeatInterval must be positive (seconds), got {heartbeatInterval!r}")
    if not deadAfter >= 2 * heartbeatInterval:
        raise ValueError(
            f"deadAfter ({deadAfter!r} s) must be at least twice heartbeatInterval ({heartbeatInterval!r} s), "
            "or one late heartbeat would end the connection"
        )


class Liveness:
    """Sends a heartbeat every ``interval`` with ``send`` and watches what :meth:`heard`
    reports: ``onChange(state)`` gets each change of :class:`LinkState` (ALIVE at the first
    heartbeat; DEGRADED after ``deadAfter / 2`` of silence; ALIVE again; GONE at
    ``deadAfter``, after which it stops)."""

    def __init__(
        self, send: Callable[[bytes], None], interval: float, deadAfter: float, onChange: Callable[[LinkState], None]
    ) -> None:
        checkTimes(interval, deadAfter)
        self._send = send
        self._interval = interval
        self.deadAfter = deadAfter
        self._onChange = onChange
        self.state = LinkState.WAITING
        self._sent = self._received = self._degradations = 0
        self._lastHeard: float | None = None
        self._deadAt = 0.0
        self._graced = False
        self._stalls = 0
        self._longestSilence = 0.0
        self._beat: asyncio.TimerHandle | None = None
        self._degradedTimer: asyncio.TimerHandle | None = None
        self._deadTimer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Starts sending (the channel is open); in the running loop."""
        if self._beat is None and self.state is not LinkState.GONE:
            self._sendBeat()

    def stop(self) -> None:
        """Stops sending and watching."""
        for timer in (self._beat, self._degradedTimer, self._deadTimer):
            if timer is not None:
                timer.cancel()
        self._beat = self._degradedTimer = self._deadTimer = None

    def heard(self) -> None:
        """A heartbeat came from the peer."""
        if self.state is LinkState.GONE:
            return
        now = time.monotonic()
        if self._lastHeard is not None:
            self._longestSilence = max(self._longestSilence, now - self._lastHeard)
        self._lastHeard = now
        self._received += 1
        loop = asyncio.get_running_loop()
        for timer in (self._degradedTimer, self._deadTimer):
            if timer is not None:
                timer.cancel()
        self._degradedTimer = loop.call_later(self.deadAfter / 2, self._change, LinkState.DEGRADED)
        self._deadAt = loop.time() + self.deadAfter
        self._graced = False
        self._deadTimer = loop.call_later(self.deadAfter, self._deadline)
        if self.state is not LinkState.ALIVE:
            self._change(LinkState.ALIVE)

    def statistics(self) -> LivenessStatistics:
        """A snapshot of the counters."""
        return LivenessStatistics(
            self.state, self._sent, self._received, self._degradations, self._longestSilence, self._stalls
        )

    def _sendBeat(self) -> None:
        self._beat = asyncio.get_running_loop().call_later(self._interval, self._sendBeat)
        try:
            self._send(HEARTBEAT)
        except Exception:  # the channel is closing: the watch decides
            return
        self._sent += 1

    def _deadline(self) -> None:
        """``deadAfter`` of silence, unless this process itself was stalled: a timer that
        fires late means the loop did not run, and beats that came meanwhile may still be on
        their way through the transport; they get one more interval to arrive, once."""
        loop = asyncio.get_running_loop()
        if not self._graced and loop.time() - self._deadAt > self._interval / 2:
            self._graced = True
            self._stalls += 1
            self._deadTimer = loop.call_later(self._interval, self._deadline)
            return
        self.stop()
        self._change(LinkState.GONE)

    def _change(self, state: LinkState) -> None:
        if state is self.state:
            return
        if state is LinkState.DEGRADED:
            self._degradations += 1
        self.state = state
        self._onChange(state)
