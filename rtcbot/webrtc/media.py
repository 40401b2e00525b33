"""``RTCConnection.video`` and ``RTCConnection.audio``: what to send, and what the peer sent."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from ..base import BaseSubscriptionProducer, SubscriptionProducer, SubscriptionProducerConsumer
from ..base._loopbinding import runningLoop
from ..base.base import ProducerConsumerStatistics
from ..shm import Frame
from ..subscriptions import MostRecentSubscription
from .tracks import ReceivedTrack, SendingTrack

_log = logging.getLogger("rtcbot.RTCConnection")


class RenegotiationNeeded(RuntimeError):
    """A track was added after the offer or answer was made."""


@dataclass(frozen=True)
class MediaStatistics(ProducerConsumerStatistics):
    """A snapshot of one kind of media (video or audio) of a connection."""

    framesSent: int
    """Frames (or audio blocks) handed to the encoder."""
    framesSkipped: int
    """Frames the sender never sent because newer ones had come (encoder or link too slow,
    or above the ``fps`` limit)."""
    badItems: int
    """Items that were not a picture or a sound block (logged and skipped)."""
    framesReceived: int
    """Decoded frames (or audio blocks) from the peer's first track."""


class _MediaHandler(SubscriptionProducerConsumer[Any, Frame]):
    """Sends what it consumes on its first outgoing track; produces what the peer's first
    incoming track of this kind brings. More tracks: ``addTrack()`` and ``onTrack()``."""

    kind = ""

    def __init__(self, rtc: RTCPeerConnection, subscriptionType: Any, sendOptions: dict[str, Any]) -> None:
        super().__init__(subscriptionType, subscriptionType, logger=_log)
        self._rtc = rtc
        self._sendOptions = sendOptions
        self._senders: list[SendingTrack] = []
        self._defaultSender: SendingTrack | None = None
        self._receivers: list[ReceivedTrack] = []
        self._defaultReceiver: ReceivedTrack | None = None
        self._offerToReceive = 0
        self._unattachedTracks: list[SendingTrack] = []  # added before any loop ran
        self._trackSubscriber: SubscriptionProducer[ReceivedTrack] = SubscriptionProducer(logger=_log)

    def offerToReceive(self, num: int = 1) -> None:
        """Asks the peer for at least ``num`` tracks of this kind (an offer only has the
        receiving tracks asked for; subscribing asks for one)."""
        self._offerToReceive = max(self._offerToReceive, num)

    def onTrack(self, callback: Any = None) -> Any:
        """Subscribes to the peer's tracks of this kind, each a :class:`ReceivedTrack`
        producer of Frames; used like ``subscribe()``."""
        self.offerToReceive()
        return self._trackSubscriber.subscribe(callback)

    def subscribe(self, subscription: Any = None) -> Any:
        """Frames from the peer's first track of this kind (and asks the peer for one)."""
        self.offerToReceive()
        return super().subscribe(subscription)

    def addTrack(self, subscription: Any = None, **options: Any) -> SendingTrack:
        """Adds an outgoing track that sends ``subscription`` (a producer, or anything with
        ``async get()``); the first track without one sends what this handler consumes
        (``putSubscription``/``put_nowait``). Must come before the offer or answer is made."""
        if self._rtc.localDescription is not None:
            raise RenegotiationNeeded(
                f"cannot add a {self.kind} track once the offer or answer is made: give the "
                f"connection its {self.kind} (putSubscription or addTrack) before getLocalDescription()"
            )
        if isinstance(subscription, BaseSubscriptionProducer):
            subscription = subscription.subscribe(self._producerSubscription())
        if subscription is None and self._defaultSender is None:
            source, drain = self._get, None
        elif subscription is not None and callable(getattr(subscription, "get", None)):
            source, drain = subscription.get, getattr(subscription, "get_nowait", None)
        else:
            raise TypeError(f"addTrack() needs a producer or a subscription with async get(), got {subscription!r}")
        track = SendingTrack(self.kind, source, drain=drain, **{**self._sendOptions, **options})
        if source == self._get:
            self._defaultSender = track
        self._senders.append(track)
        self._unattachedTracks.append(track)
        if runningLoop() is not None:
            self._attachTracks()
        return track

    def _attachTracks(self) -> None:
        """Gives aiortc the tracks added so far, from the running loop: its sender keeps
        the event loop current when it is made, so a track added at module level, before
        any loop runs, waits here until the connection is used in one."""
        for track in self._unattachedTracks:
            track.useSender(self._rtc.addTrack(track))
        self._unattachedTracks.clear()

    def putSubscription(self, subscription: Any) -> None:
        """Sends ``subscription`` (a camera, a microphone, any producer or subscription) to
        the peer on the first outgoing track, made here if needed."""
        self._ensureSender()
        super().putSubscription(subscription)

    def put_nowait(self, data: Any) -> None:
        """Sends one frame (or audio block) on the first outgoing track."""
        self._ensureSender()
        super().put_nowait(data)

    def _ensureSender(self) -> None:
        if self._defaultSender is None and not self.closed:
            self.addTrack()

    def _wantedReceivers(self) -> int:
        """How many receive-only transceivers an offer needs beyond the sending ones."""
        return max(0, self._offerToReceive - len(self._senders))

    def _onTrack(self, track: MediaStreamTrack) -> None:
        received = ReceivedTrack(track)
        self._receivers.append(received)
        if self._defaultReceiver is None:
            self._defaultReceiver = received
            received.subscribe(self._put_nowait)
        self._trackSubscriber._put_nowait(received)

    def statistics(self) -> MediaStatistics:
        """A snapshot of this kind's counters."""
        base = super().statistics()
        return MediaStatistics(
            **vars(base),
            framesSent=sum(track.sent for track in self._senders),
            framesSkipped=sum(track.skipped for track in self._senders),
            badItems=sum(track.badItems for track in self._senders),
            framesReceived=self._defaultReceiver.statistics().published if self._defaultReceiver else 0,
        )

    def close(self) -> None:
        """Stops sending and receiving this kind."""
        if self.closed:
            return
        for track in self._senders:
            track.stop()
        for received in self._receivers:
            received.close()
        self._trackSubscriber.close()
        super().close()


class ConnectionVideoHandler(_MediaHandler):
    """``connection.video``: ``putSubscription(camera)`` sends a camera (newest frame
    only); ``subscribe()`` gives the peer's video as BGR Frames."""

    kind = "video"

    def __init__(self, rtc: RTCPeerConnection, sendOptions: dict[str, Any]) -> None:
        super().__init__(rtc, MostRecentSubscription, sendOptions)


#: Blocks of a producer the audio handler keeps while its track is not read (no peer yet):
#: the newest ones, as many as a microphone's shared-memory slots hold (about 1.4 s).
WAITING_AUDIO_BLOCKS = 64


class _CopiedBlocks(asyncio.Queue[Any]):
    """The audio handler's subscription to a producer given to ``putSubscription`` (or
    ``addTrack``): copies of its blocks, the newest :data:`WAITING_AUDIO_BLOCKS` at most. Nothing reads it until
    the peer connects; shared-memory Frames queued that long would hold all of a process
    producer's slots, and a microphone would then drop every new block, for each of its
    subscribers. An audio block is a few kB: the copy costs next to nothing."""

    def put_nowait(self, item: Any) -> None:
        if isinstance(item, Frame):
            item = item.copy()  # a Frame still (its times and sequence), holding no slot
        if self.qsize() >= WAITING_AUDIO_BLOCKS:
            self.get_nowait()  # the oldest: the track counts the gap as skipped
        super().put_nowait(item)


class ConnectionAudioHandler(_MediaHandler):
    """``connection.audio``: ``putSubscription(microphone)`` sends a microphone (every
    block, in order, once the peer reads the track; until then the newest
    :data:`WAITING_AUDIO_BLOCKS`, copied); ``subscribe()`` gives the peer's audio as
    float32 (samples, channels) Frames at 48 kHz."""

    kind = "audio"

    def __init__(self, rtc: RTCPeerConnection, sendOptions: dict[str, Any]) -> None:
        super().__init__(rtc, asyncio.Queue, sendOptions)

    def _producerSubscription(self) -> Any:
        return _CopiedBlocks()
