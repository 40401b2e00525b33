"""Signalling over HTTP (aiohttp): a page, its JavaScript, and an offer endpoint that answers
each browser with a new RTCConnection, guarded by a token."""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from .connection import RTCConnection

_log = logging.getLogger("rtcbot.WebRTCServer")

OFFER_PATH = "/connect"
SCRIPT_PATH = "/rtcbot.js"
#: The header by which a page that reconnects (rtcbot.js's ReconnectingConnection) names itself.
SESSION_HEADER = "X-RTCBot-Session"


def getRTCBotJS() -> str:
    """The browser side of RTCConnection (``rtcbot.RTCConnection`` in JavaScript, the same
    names as in Python), to serve beside a page or inline in a ``<script>``."""
    return resources.files(__package__).joinpath("rtcbot.js").read_text(encoding="utf-8")


class WebRTCServer:
    """Serves ``page`` at ``/``, the JavaScript at ``/rtcbot.js`` and, at ``POST /connect``,
    answers a browser's offer with a new :class:`RTCConnection`, given first to
    ``onConnection`` (a function or coroutine function) to add its camera, microphone and
    subscriptions.

    The offer endpoint needs the token, as ``Authorization: Bearer <token>``: without it the
    answer is 403 and nothing is made. ``token=None`` makes a random one (``server.token``);
    the page reads it from the address's fragment, ``http://robot:8080/#token=...``
    (:meth:`pageAddress`). A body that is not an offer gets 400 saying why; either way the
    server goes on serving the next peer. ``connectionOptions`` go to each RTCConnection.

    A page that reconnects sends the same ``X-RTCBot-Session`` header each time: its new
    connection replaces its earlier one, which is closed (so a dead connection holds no
    camera frame and drives nothing).
    """

    def __init__(
        self,
        page: str,
        onConnection: Callable[[RTCConnection], Awaitable[None] | None],
        token: str | None = None,
        connectionOptions: dict[str, Any] | None = None,
    ) -> None:
        if token is not None and (not isinstance(token, str) or len(token) < 8):
            raise ValueError("token must be a string of at least 8 characters (or None for a random one)")
        self.token = token if token is not None else secrets.token_urlsafe(16)
        self.connections: set[RTCConnection] = set()
        self._sessions: dict[str, RTCConnection] = {}
        self._page = page
        self._onConnection = onConnection
        self._connectionOptions = connectionOptions or {}
        self._runner: web.AppRunner | None = None
        self._address = ""
        self.app = web.Application()
        self.app.router.add_get("/", self._servePage)
        self.app.router.add_get(SCRIPT_PATH, self._serveScript)
        self.app.router.add_post(OFFER_PATH, self._answer)

    async def start(self, host: str = "0.0.0.0", port: int = 8080) -> str:
        """Starts serving; returns the server's address (``port=0``: a free port)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        boundHost, boundPort = self._runner.addresses[0][:2]
        self._address = f"http://{boundHost}:{boundPort}"
        return self._address

    def pageAddress(self, host: str | None = None) -> str:
        """The page's address with the token in its fragment, to open in a browser."""
        address = self._address if host is None else f"http://{host}:{self._address.rsplit(':', 1)[1]}"
        return f"{address}/#token={self.token}"

    async def close(self) -> None:
        """Stops serving and closes every connection it made."""
        for connection in list(self.connections):
            await connection.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _servePage(self, request: web.Request) -> web.Response:
        return web.Response(text=self._page, content_type="text/html")

    async def _serveScript(self, request: web.Request) -> web.Response:
        return web.Response(text=getRTCBotJS(), content_type="application/javascript")

    def _authorised(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), self.token.encode())

    async def _answer(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            _log.warning("refused an offer from %s: wrong or missing token", request.remote)
            return web.Response(status=403, text="a valid token is needed (Authorization: Bearer <token>)")
        try:
            offer = json.loads(await request.text())
        except ValueError as error:
            return web.Response(status=400, text=f"the body must be the offer as JSON: {error}")
        if not isinstance(offer, dict) or offer.get("type") != "offer":
            return web.Response(status=400, text="the body must be an offer: {'type': 'offer', 'sdp': '...'}")
        connection = RTCConnection(**self._connectionOptions)
        try:
            prepared = self._onConnection(connection)
            if inspect.isawaitable(prepared):
                await prepared
            answer = await connection.getLocalDescription(offer)
        except ValueError as error:
            await connection.close()
            return web.Response(status=400, text=str(error))
        except BaseException:
            await connection.close()
            raise
        self.connections.add(connection)
        connection.onClose(lambda: self.connections.discard(connection))
        session = request.headers.get(SESSION_HEADER)
        if session:
            earlier = self._sessions.get(session)
            self._sessions[session] = connection
            connection.onClose(lambda: self._forget(session, connection))
            if earlier is not None and not earlier.closed:
                _log.info("session %.8s reconnected: closing its earlier connection", session)
                earlier.close()
        return web.json_response(answer)

    def _forget(self, session: str, connection: RTCConnection) -> None:
        if self._sessions.get(session) is connection:
            del self._sessions[session]
