"""Websocket, RTCBot's name: a real aiohttp server and client, both rtcbot Websockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from rtcbot.webrtc import Websocket


@asynccontextmanager
async def echoServer() -> AsyncIterator[str]:
    """An aiohttp server whose /ws echoes every message back as {"echo": message} (bytes
    as they are)."""
    handlers: list[Websocket] = []

    async def echo(request: web.Request) -> web.StreamResponse:
        ws = Websocket(request)
        handlers.append(ws)
        await ws.onReady()
        while ws.ready:
            try:
                message = await ws.get()
            except Exception:
                break
            ws.put_nowait(message if isinstance(message, bytes) else {"echo": message})
        await ws
        return web.Response()

    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/ws"
    finally:
        for ws in handlers:
            await ws.close()
        await runner.cleanup()


async def test_messages_go_to_the_server_and_back_in_order() -> None:
    async with echoServer() as address:
        ws = Websocket(address)
        messages = ["hello", {"a": [1, 2]}, 3.5, None, b"\x01\x02"]
        for message in messages:
            ws.put_nowait(message)
        replies = [await asyncio.wait_for(ws.get(), 10) for _ in messages]
        with pytest.raises(TypeError, match="JSON value"):
            ws.put_nowait({1, 2})
        closed = ws.onClose()
        await ws.close()
        await asyncio.wait_for(closed, 10)
    assert replies == [{"echo": message} for message in messages[:4]] + [b"\x01\x02"]


async def test_a_server_that_is_not_there_is_an_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ws = Websocket(f"http://127.0.0.1:{port}/ws")
    error = await asyncio.wait_for(ws.onError(), 10)
    await asyncio.wait_for(ws, 10)
    assert isinstance(error, ConnectionError) and str(port) in str(error)
    assert ws.closed
