"""RTCConnection: a WebRTC peer (aiortc) that is a producer and consumer of messages, with
``video`` and ``audio`` for media and more data channels on demand."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Generator
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from ..base import NoClosedSubscription, SubscriptionProducer, SubscriptionProducerConsumer
from ..base._listeners import ListenerRegistry
from ..base._loopbinding import runningLoop
from ..base.events import baseEventHandler
from ._jitterbuffer import installOnVideoReceivers
from ._liveness import (
    DEFAULT_DEAD_AFTER,
    DEFAULT_HEARTBEAT_INTERVAL,
    HEARTBEAT_CHANNEL,
    HEARTBEAT_CHANNEL_ID,
    LinkState,
    Liveness,
    LivenessStatistics,
    checkTimes,
)
from ._messages import EncodedMessage, encodeMessage
from .datachannel import DataChannel
from .media import ConnectionAudioHandler, ConnectionVideoHandler

_log = logging.getLogger("rtcbot.RTCConnection")

DEFAULT_CHANNEL = "default"
VIDEO_CODECS = ("VP8", "H264")
#: The bitrates (bits/s) aiortc 1.x's encoders accept: VP8 and H.264.
BITRATE_RANGES = {"VP8": (250_000, 1_500_000), "H264": (500_000, 3_000_000)}
#: Longest a close() made after the loop stopped runs that loop to shut the connection down.
STOPPED_LOOP_TEARDOWN_LIMIT = 5.0


class Teardown:
    """What ``close()`` returns on a connection or websocket: awaiting it waits until the
    object and everything it started have ended (the same as awaiting the object)."""

    def __init__(self, closing: baseEventHandler) -> None:
        self._closing = closing

    def __await__(self) -> Generator[Any, None, None]:
        return self._closing.__await__()


def _iceServers(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    """The browser's form of STUN and TURN servers ({"urls", "username", "credential"}) as aiortc's."""
    if not isinstance(servers, list):
        raise TypeError(f"iceServers must be a list of dicts, as a browser's, got {servers!r}")
    made = []
    for server in servers:
        if not isinstance(server, dict) or not server.get("urls") or set(server) - {"urls", "username", "credential"}:
            raise ValueError(
                "each of iceServers is a dict {'urls': 'turn:host:3478', 'username': ..., 'credential': ...} "
                f"(username and credential for TURN only), got {server!r}"
            )
        made.append(
            RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))
        )
    return made


def _checkedDescription(description: Any) -> RTCSessionDescription:
    """The description as aiortc's type, or a ValueError saying what a description is."""
    if isinstance(description, RTCSessionDescription):
        return description
    if (
        not isinstance(description, dict)
        or description.get("type") not in ("offer", "answer")
        or not isinstance(description.get("sdp"), str)
    ):
        raise ValueError(
            "a session description is a dict {'type': 'offer' or 'answer', 'sdp': '<SDP text>'}, "
            f"as getLocalDescription() returns; got {description!r:.120}"
        )
    sdp = description["sdp"]
    if not sdp.lstrip().startswith("v=0") or "\nm=" not in sdp:
        raise ValueError(
            f"the {description['type']} is not SDP with media (it must start with 'v=0' and have "
            f"'m=' lines): {sdp!r:.80}"
        )
    return RTCSessionDescription(sdp=sdp, type=description["type"])


def _checkBitrate(codec: str | None, bitrate: int | None) -> None:
    """Refuses a bitrate without a codec, or outside what the codec's encoder accepts."""
    if bitrate is None:
        return
    if codec is None:
        raise ValueError("videoBitrate needs videoCodec: what an encoder accepts depends on it (VP8, H264)")
    low, high = BITRATE_RANGES[codec.upper()]
    if not isinstance(bitrate, int) or not low <= bitrate <= high:
        raise ValueError(
            f"videoBitrate for {codec.upper()} must be a whole number from {low} to {high} bits/s, got {bitrate!r}"
        )


class PeerGone(ConnectionError):
    """The peer stopped answering heartbeats: killed, its tab closed, or the link cut."""


class CloseReason(enum.Enum):
    """Why a connection closed (``RTCConnection.closeReason``)."""

    CLOSED_HERE = "closed here"
    """``close()`` was called on this side."""
    CLOSED_BY_PEER = "closed by the peer"
    """The peer closed the connection (or its default channel)."""
    PEER_GONE = "peer gone"
    """No heartbeat for ``deadAfter`` seconds: the error is :class:`PeerGone`."""
    FAILED = "failed"
    """WebRTC itself gave up on the link (ICE): the error is a ``ConnectionError``."""


class RTCConnection(SubscriptionProducerConsumer[Any, Any]):
    """A WebRTC connection to one peer (a browser or another RTCConnection).

    Signalling is two calls on each side::

        offer = await c1.getLocalDescription()          # the offering side
        answer = await c2.getLocalDescription(offer)    # the answering side
        await c1.setRemoteDescription(answer)

    The connection itself carries messages on its default data channel: ``put_nowait(msg)``
    (or ``send``) sends a JSON value (or bytes); ``subscribe()``/``get()`` give the peer's
    messages, in order; ``get()`` also returns those that came before it was first called.
    It is ready while that channel is open. ``video`` and ``audio``
    send a camera or microphone (``putSubscription``) and give the peer's media
    (``subscribe``). ``addDataChannel(name)`` and ``onDataChannel()`` make and accept more
    channels. ``await close()`` ends it all.

    ``iceServers`` are STUN and TURN servers in the browser's form (the same list a page
    gives rtcbot.js): ``[{"urls": "turn:turn.example.org:3478", "username": "robot",
    "credential": "secret"}]``, for peers on networks with no route between them; or give
    aiortc's ``RTCConfiguration`` as ``rtcConfiguration``. By default none is used (host
    candidates only: a LAN, or one machine). ``videoCodec`` ("VP8" or
    "H264") is the only video codec offered or accepted when given; ``fps`` limits the
    frames sent and ``videoSize`` (width, height) resizes them; ``videoBitrate`` (bits/s,
    with ``videoCodec``: 250 kbps to 1.5 Mbps for VP8, 0.5 to 3 Mbps for H.264, aiortc's
    limits) caps the encoder's rate, which the receiver's estimate can still lower.
    ``lowLatencyVideo`` hands each
    received video frame to the decoder as soon as its last packet arrives (aiortc's own
    buffer waits for the next frame's first packet: one frame interval more). ``loop`` is accepted for
    RTCBot compatibility: the connection runs in the loop that uses it.

    Liveness: both sides send a heartbeat (one byte) every ``heartbeatInterval`` seconds on
    a channel of their own; after ``deadAfter / 2`` of silence ``onDegraded`` listeners are
    called (``onRecovered`` when beats come back), after ``deadAfter`` the connection closes
    with :class:`PeerGone` as its error. A peer that never sends heartbeats (RTCBot 0.2.5)
    is only watched by WebRTC itself (about 30 s). :attr:`closeReason` says why it closed.
    """

    def __init__(
        self,
        defaultChannelOrdered: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
        rtcConfiguration: RTCConfiguration | None = None,
        *,
        videoCodec: str | None = None,
        fps: float | None = None,
        videoSize: tuple[int, int] | None = None,
        lowLatencyVideo: bool = True,
        videoBitrate: int | None = None,
        heartbeatInterval: float = DEFAULT_HEARTBEAT_INTERVAL,
        deadAfter: float = DEFAULT_DEAD_AFTER,
        iceServers: list[dict[str, Any]] | None = None,
    ) -> None:
        checkTimes(heartbeatInterval, deadAfter)
        if iceServers is not None:
            if rtcConfiguration is not None:
                raise TypeError("give iceServers or rtcConfiguration, not both (iceServers is rtcConfiguration's list)")
            rtcConfiguration = RTCConfiguration(iceServers=_iceServers(iceServers))
        if videoCodec is not None and videoCodec.upper() not in VIDEO_CODECS:
            raise ValueError(
                f"videoCodec must be one of {', '.join(VIDEO_CODECS)} (or None for any), got {videoCodec!r}"
            )
        _checkBitrate(videoCodec, videoBitrate)
        super().__init__(asyncio.Queue, asyncio.Queue, logger=_log, defaultAutosubscribe=True, ready=False)
        self._rtc = RTCPeerConnection(configuration=rtcConfiguration or RTCConfiguration(iceServers=[]))
        self._videoCodec = videoCodec.upper() if videoCodec else None
        self._lowLatencyVideo = lowLatencyVideo
        self._defaultChannelOrdered = defaultChannelOrdered
        self._dataChannels: dict[str, DataChannel] = {}
        self._dataChannelSubscriber: SubscriptionProducer[DataChannel] = SubscriptionProducer(logger=_log)
        self._video = ConnectionVideoHandler(self._rtc, {"fps": fps, "size": videoSize, "bitrate": videoBitrate})
        self._audio = ConnectionAudioHandler(self._rtc, {})
        self._video.onClose(self.close)
        self._audio.onClose(self.close)
        self._teardown: asyncio.Task[None] | None = None
        self._signallingLoop: asyncio.AbstractEventLoop | None = None  # aiortc's objects run there
        self._closeReason: CloseReason | None = None
        self._degradedListeners = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, False)
        self._recoveredListeners = ListenerRegistry(self._rateLimitedLog, self._listenerTasks, False)
        self._heartbeats: RTCDataChannel | None = None
        self._liveness = Liveness(self._sendHeartbeat, heartbeatInterval, deadAfter, self._linkChanged)
        self._rtc.on("datachannel", self._onDataChannel)
        self._rtc.on("track", self._onTrack)
        self._rtc.on("connectionstatechange", self._onConnectionState)

    # -- signalling -------------------------------------------------------------------------

    async def getLocalDescription(self, description: Any = None) -> dict[str, str]:
        """The description to send to the peer: an offer, or (given the peer's offer, or
        after ``setRemoteDescription(offer)``) the answer to it. The returned dict
        (``type``, ``sdp``) holds every ICE candidate: no trickling is needed."""
        self._bindLoop()
        self._signallingLoop = asyncio.get_running_loop()
        if self.closed:
            raise self._closedError("cannot make a description")
        self._attachTracks()
        if description is not None and self._rtc.remoteDescription is None:
            await self.setRemoteDescription(description)
        if self._rtc.remoteDescription is not None:
            if "m=application" in self._rtc.remoteDescription.sdp:
                self._openHeartbeats()
            self._preferCodec()
            local = await self._rtc.createAnswer()
        else:
            self._addChannel(self._rtc.createDataChannel(DEFAULT_CHANNEL, ordered=self._defaultChannelOrdered))
            self._openHeartbeats()
            for handler in (self._video, self._audio):
                for _ in range(handler._wantedReceivers()):
                    self._rtc.addTransceiver(handler.kind, "recvonly")
            self._preferCodec()
            local = await self._rtc.createOffer()
        await self._rtc.setLocalDescription(local)
        if self._lowLatencyVideo:
            installOnVideoReceivers(self._rtc.getTransceivers())
        result = self._rtc.localDescription
        return {"sdp": result.sdp, "type": result.type}

    async def setRemoteDescription(self, description: Any) -> None:
        """Applies the peer's offer or answer. Anything that is not a valid description
        raises ``ValueError`` and leaves the connection as it was."""
        self._bindLoop()
        self._signallingLoop = asyncio.get_running_loop()
        if self.closed:
            raise self._closedError("cannot set a description")
        self._attachTracks()
        checked = _checkedDescription(description)
        try:
            await self._rtc.setRemoteDescription(checked)
        except Exception as error:  # aiortc's parser also fails with assert, IndexError and others
            reason = str(error) or type(error).__name__
            raise ValueError(f"the peer's {checked.type} was refused: {reason}") from None

    def _attachTracks(self) -> None:
        for handler in (self._video, self._audio):
            handler._attachTracks()

    def _preferCodec(self) -> None:
        if self._videoCodec is None:
            return
        wanted = f"video/{self._videoCodec}".lower()
        codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == wanted]
        for transceiver in self._rtc.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(codecs)

    # -- peer events ------------------------------------------------------------------------

    def _onDataChannel(self, channel: RTCDataChannel) -> None:
        wrapped = self._addChannel(channel)
        if wrapped.name != DEFAULT_CHANNEL:
            self._dataChannelSubscriber._put_nowait(wrapped)

    def _addChannel(self, channel: RTCDataChannel) -> DataChannel:
        wrapped = DataChannel(channel)
        self._dataChannels[wrapped.name] = wrapped
        if wrapped.name == DEFAULT_CHANNEL:
            wrapped.putSubscription(NoClosedSubscription(self._get))
            wrapped.subscribe(self._put_nowait)
            wrapped.onReady(lambda: self._setReady(True))
            wrapped.onClose(self._closedByPeer)
        return wrapped

    # -- liveness ---------------------------------------------------------------------------

    def _openHeartbeats(self) -> None:
        if self._heartbeats is not None:
            return
        channel = self._rtc.createDataChannel(
            HEARTBEAT_CHANNEL, ordered=False, maxRetransmits=0, negotiated=True, id=HEARTBEAT_CHANNEL_ID
        )
        channel.on("open", self._liveness.start)
        channel.on("message", lambda _: self._liveness.heard())
        self._heartbeats = channel

    def _sendHeartbeat(self, beat: bytes) -> None:
        if self._heartbeats is not None and self._heartbeats.readyState == "open":
            self._heartbeats.send(beat)

    def _linkChanged(self, state: LinkState) -> None:
        if state is LinkState.DEGRADED:
            self._log.info("nothing heard from the peer for %.2f s", self._liveness.deadAfter / 2)
            self._degradedListeners.deliver(None)
        elif state is LinkState.ALIVE and self._liveness.statistics().degradations:
            self._log.info("the peer is heard again")
            self._recoveredListeners.deliver(None)
        elif state is LinkState.GONE:
            self._closeReason = CloseReason.PEER_GONE
            self._setError(PeerGone(f"nothing heard from the peer for {self._liveness.deadAfter:g} s: it has gone"))

    def onDegraded(self, callback: Any) -> Any:
        """Registers ``callback`` (a function, coroutine function or sink; no argument) for
        each time nothing is heard from the peer for ``deadAfter / 2``; returns it."""
        self._degradedListeners.add(callback, "onDegraded()")
        return callback

    def onRecovered(self, callback: Any) -> Any:
        """Registers ``callback`` for each time the peer is heard again after ``onDegraded``."""
        self._recoveredListeners.add(callback, "onRecovered()")
        return callback

    @property
    def linkState(self) -> LinkState:
        """What the heartbeats say now: waiting, alive, degraded or gone."""
        return self._liveness.state

    @property
    def closeReason(self) -> CloseReason | None:
        """Why the connection closed (None while open)."""
        return self._closeReason

    def livenessStatistics(self) -> LivenessStatistics:
        """A snapshot of the heartbeats: state, sent, received, degradations, longest silence."""
        return self._liveness.statistics()

    def _onTrack(self, track: MediaStreamTrack) -> None:
        (self._video if track.kind == "video" else self._audio)._onTrack(track)

    async def _onConnectionState(self) -> None:
        state = self._rtc.connectionState
        _log.debug("connection state: %s", state)
        if state == "failed" and not self.closed:
            self._closeReason = CloseReason.FAILED
            self._setError(ConnectionError("the WebRTC connection failed (the peer is unreachable or has gone)"))
        elif state == "closed":
            self._closedByPeer()

    def _closedByPeer(self) -> None:
        if not self.closed:
            self._closeReason = CloseReason.CLOSED_BY_PEER
            self.close()

    # -- data channels ----------------------------------------------------------------------

    def put_nowait(self, data: Any) -> None:
        """Sends ``data`` (a JSON value or bytes) on the default channel, once it is open.
        Something else raises ``TypeError`` and nothing is queued."""
        super().put_nowait(EncodedMessage(encodeMessage(data, True)))  # encoded once, here

    def send(self, msg: Any) -> None:
        """Another name for :meth:`put_nowait`."""
        self.put_nowait(msg)

    def onDataChannel(self, callback: Any = None) -> Any:
        """Subscribes to the data channels the peer opens (other than the default one), each
        a :class:`DataChannel`; used like ``subscribe()``."""
        return self._dataChannelSubscriber.subscribe(callback)

    def addDataChannel(self, name: str, ordered: bool = True) -> DataChannel:
        """Opens another data channel; the peer gets it through ``onDataChannel``. Must be
        called before the offer is made. An existing name (or "default") is a KeyError."""
        if name in self._dataChannels or name == DEFAULT_CHANNEL:
            raise KeyError(f"a data channel named {name!r} already exists on this connection")
        return self._addChannel(self._rtc.createDataChannel(name, ordered=ordered))

    def getDataChannel(self, name: str) -> DataChannel:
        """The data channel called ``name``. The default channel is the connection itself
        (its ``subscribe`` and ``put_nowait``), so asking for it is a KeyError."""
        if name == DEFAULT_CHANNEL:
            raise KeyError("the default channel is the connection itself: use its subscribe() and put_nowait()")
        return self._dataChannels[name]

    @property
    def video(self) -> ConnectionVideoHandler:
        """The connection's video: ``putSubscription(camera)`` and ``subscribe()``."""
        return self._video

    @property
    def audio(self) -> ConnectionAudioHandler:
        """The connection's audio: ``putSubscription(microphone)`` and ``subscribe()``."""
        return self._audio

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> Teardown:  # type: ignore[override]
        """Closes the connection, its channels and media; returns an awaitable that
        completes once the peer connection is shut down (``await conn.close()``)."""
        self._bindLoop()
        if not self.closed:
            if self._closeReason is None:
                self._closeReason = CloseReason.CLOSED_HERE
            self._liveness.stop()
            super().close()
            self._video.close()
            self._audio.close()
            for channel in self._dataChannels.values():
                channel.close()
            self._dataChannelSubscriber.close()
            self._callSoon(self._startTeardown)
            self._tearDownInStoppedLoop()
        return Teardown(self)

    def _tearDownInStoppedLoop(self) -> None:
        """Closed while no loop runs, after one ran the connection: RTCBot's programs close
        in a ``finally`` once Ctrl-C has stopped ``run_forever()``. aiortc's decoder threads
        only end with its teardown, and Python waits for them at exit, so the program would
        never end: the stopped loop runs again here until the connection is shut down."""
        loop = self._signallingLoop
        if runningLoop() is not None or loop is None or loop.is_running() or loop.is_closed():
            return
        try:
            loop.run_until_complete(asyncio.wait_for(self._tearDownNow(), STOPPED_LOOP_TEARDOWN_LIMIT))
        except (TimeoutError, RuntimeError) as error:  # RuntimeError: another loop runs in this thread
            self._log.warning("could not shut the connection down after its event loop stopped: %r", error)

    async def _tearDownNow(self) -> None:
        self._startTeardown()
        assert self._teardown is not None
        await self._teardown

    def _startTeardown(self) -> None:
        if self._teardown is None:
            self._teardown = asyncio.ensure_future(self._tearDown())
            self._teardown.add_done_callback(lambda _: self._notifyState())

    async def _tearDown(self) -> None:
        await self._rtc.close()
        parts: list[Any] = [*self._dataChannels.values(), *self._video._receivers, *self._audio._receivers]
        await asyncio.gather(*parts)

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and self._teardown is not None and self._teardown.done()
