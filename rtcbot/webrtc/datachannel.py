"""A WebRTC data channel as a producer (messages received) and consumer (messages to send)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDataChannel

from ..base import ConsumerClosed, SubscriptionProducerConsumer
from ..base.base import ProducerConsumerStatistics
from ._messages import EncodedMessage, decodeMessage, encodeMessage

_log = logging.getLogger("rtcbot.RTCConnection")


@dataclass(frozen=True)
class DataChannelStatistics(ProducerConsumerStatistics):
    """A snapshot of a data channel's counters."""

    messagesSent: int
    """Messages handed to the channel."""
    messagesReceived: int
    """Messages that arrived from the peer."""
    unsendable: int
    """Messages from a subscription that could not be encoded (logged and skipped)."""


class DataChannel(SubscriptionProducerConsumer[Any, Any]):
    """Messages to and from the peer over one data channel, in order (unless the channel was
    made unordered).

    ``put_nowait(message)`` queues a message; until the channel opens, messages wait.
    ``subscribe()`` gives the messages the peer sends from then on; ``get()`` all of them.
    With ``json=True`` (the default) messages are JSON values, sent as JSON text; text that
    is not JSON arrives as a ``str``; bytes go both ways as they are. Ready while the
    channel is open.
    """

    def __init__(self, rtcDataChannel: RTCDataChannel, json: bool = True) -> None:
        super().__init__(asyncio.Queue, asyncio.Queue, logger=_log, defaultAutosubscribe=True, ready=False)
        self._channel = rtcDataChannel
        self._json = json
        self._sender: asyncio.Task[None] | None = None
        self._sent = 0
        self._arrived = 0
        self._unsendable = 0
        rtcDataChannel.on("message", self._onMessage)
        rtcDataChannel.on("close", self.close)
        if rtcDataChannel.readyState == "open":
            self._onOpen()
        else:
            rtcDataChannel.on("open", self._onOpen)

    @property
    def name(self) -> str:
        """The channel's label, as both peers see it."""
        return str(self._channel.label)

    def put_nowait(self, data: Any) -> None:
        """Queues ``data`` for the peer. A message that cannot be sent (not bytes nor a JSON
        value) raises ``TypeError`` here, and nothing is queued."""
        super().put_nowait(EncodedMessage(encodeMessage(data, self._json)))

    def send(self, msg: Any) -> None:
        """Another name for :meth:`put_nowait`."""
        self.put_nowait(msg)

    def _onOpen(self) -> None:
        if self.closed or self._sender is not None:
            return
        self._setReady(True)
        self._sender = asyncio.ensure_future(self._sendAll())
        self._sender.add_done_callback(lambda _: self._notifyState())

    def _onMessage(self, data: str | bytes) -> None:
        self._arrived += 1
        self._put_nowait(decodeMessage(data, self._json))

    async def _sendAll(self) -> None:
        while True:
            try:
                message = await self._get()
            except ConsumerClosed:
                return
            try:
                payload = encodeMessage(message, self._json)
            except TypeError as error:
                self._unsendable += 1
                self._rateLimitedLog.log("unsendable", logging.ERROR, "skipped a message: %s", error)
                continue
            if self._channel.readyState != "open":
                return
            self._channel.send(payload)
            self._sent += 1
            await asyncio.sleep(0)  # a burst of queued messages must not hold the loop

    def statistics(self) -> DataChannelStatistics:
        """A snapshot of this channel's counters."""
        base = super().statistics()
        return DataChannelStatistics(
            **vars(base), messagesSent=self._sent, messagesReceived=self._arrived, unsendable=self._unsendable
        )

    def close(self) -> None:
        """Closes the channel for both peers; queued messages not yet sent are dropped."""
        if self.closed:
            return
        super().close()
        if self._channel.transport.transport.state == "connected":  # else nothing can be told
            self._channel.close()

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and (self._sender is None or self._sender.done())
