"""A websocket (aiohttp) as a producer of the messages received and a consumer of those to
send: RTCBot's ``Websocket``, for signalling or for messages where WebRTC is not needed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web

from ..base import ConsumerClosed, SubscriptionProducerConsumer
from ._messages import EncodedMessage, decodeMessage, encodeMessage
from .connection import Teardown

_log = logging.getLogger("rtcbot.Websocket")


class Websocket(SubscriptionProducerConsumer[Any, Any]):
    """``Websocket("http://robot:8080/ws")`` connects to a server; inside an aiohttp handler,
    ``Websocket(request)`` accepts the browser's or program's websocket. Messages are JSON
    values (text that is not JSON arrives as a ``str``), or bytes; ``get()`` returns every
    message from the start. Ready while connected; a connection that cannot be made is an
    error (``onError``) and closes the object. Made in a running event loop."""

    def __init__(self, urlOrRequest: str | web.Request, json: bool = True) -> None:
        super().__init__(asyncio.Queue, asyncio.Queue, logger=_log, defaultAutosubscribe=True, ready=False)
        self._json = json
        self._socket: web.WebSocketResponse | aiohttp.ClientWebSocketResponse | None = None
        self._sender: asyncio.Future[None] | None = None
        self._runner = asyncio.ensure_future(self._run(urlOrRequest))
        self._runner.add_done_callback(lambda _: self._notifyState())

    @property
    def ws(self) -> web.WebSocketResponse | aiohttp.ClientWebSocketResponse | None:
        """aiohttp's websocket, once connected (None before): a server's handler returns it
        (``return ws.ws``), as aiohttp wants the response it prepared."""
        return self._socket

    def put_nowait(self, data: Any) -> None:
        """Queues ``data`` for the other end; what cannot be sent raises ``TypeError`` here."""
        super().put_nowait(EncodedMessage(encodeMessage(data, self._json)))

    async def _run(self, target: str | web.Request) -> None:
        session: aiohttp.ClientSession | None = None
        try:
            if isinstance(target, web.Request):
                server = web.WebSocketResponse()
                await server.prepare(target)
                self._socket = server
            else:
                session = aiohttp.ClientSession()
                self._socket = await session.ws_connect(target)
            self._setReady(True)
            self._sender = sender = asyncio.ensure_future(self._sendAll(self._socket))
            try:
                async for message in self._socket:
                    if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        self._put_nowait(decodeMessage(message.data, self._json))
            finally:
                sender.cancel()
                await self._socket.close()
        except (aiohttp.ClientError, OSError) as error:
            self._setError(ConnectionError(f"websocket {target!r}: {error}"))
        finally:
            if session is not None:
                await session.close()
            self.close()

    async def _sendAll(self, socket: Any) -> None:
        while True:
            try:
                message = await self._get()
            except ConsumerClosed:
                break
            await self._send(socket, message)
        # Closed: what put_nowait() queued before close() still goes, ahead of the close frame
        # (``ws.put_nowait(answer); await ws.close()`` must deliver the answer).
        while True:
            try:
                message = self._directPutSubscription.get_nowait()
            except asyncio.QueueEmpty:
                return
            await self._send(socket, message)

    async def _send(self, socket: Any, message: Any) -> None:
        payload = encodeMessage(message, self._json)
        if isinstance(payload, bytes):
            await socket.send_bytes(payload)
        else:
            await socket.send_str(payload)

    async def _closeAfterSending(self, socket: Any) -> None:
        if self._sender is not None:
            await asyncio.wait([self._sender])
        await socket.close()

    def close(self) -> Teardown:  # type: ignore[override]
        """Closes the websocket once the messages already given to ``put_nowait`` are sent;
        returns an awaitable that completes once it is shut down."""
        if not self.closed:
            super().close()
            if self._socket is not None and not self._socket.closed:
                asyncio.ensure_future(self._closeAfterSending(self._socket))
        return Teardown(self)

    def _isTornDown(self) -> bool:
        return super()._isTornDown() and self._runner.done()
