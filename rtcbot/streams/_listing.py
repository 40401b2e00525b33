"""What ``rtcbot list`` shows: every published stream, asked over its own socket."""

from __future__ import annotations

import os
from typing import Any

from ..shm.channel import BlockingChannel
from ..shm.protocol import Kind
from ._connecting import notAllowed
from ._names import publishedNames, socketPath
from ._socket import unixSocket
from ._wire import WANT_INFO, decodeJson, hello

#: Seconds a publisher has to describe its stream.
ASK_TIMEOUT = 2.0


def describeStream(name: str) -> dict[str, Any]:
    """The publisher's description of ``name``, or ``{"name", "state"}`` where there is
    none: ``stale`` (the publisher died), ``not allowed`` or ``no answer``."""
    sock = unixSocket(blocking=True)
    channel = BlockingChannel(sock)
    try:
        sock.settimeout(ASK_TIMEOUT)
        try:
            sock.connect(str(socketPath(name)))
        except (ConnectionRefusedError, FileNotFoundError):
            return {"name": name, "state": "stale"}
        except PermissionError as error:
            return {"name": name, "state": "not allowed", "why": str(notAllowed(name, error))}
        channel.send(hello(WANT_INFO, os.getpid()))
        while not channel.ended:
            for kind, payload in channel.receive(block=True, timeout=ASK_TIMEOUT):
                if kind is Kind.INFO:
                    return {**decodeJson(payload), "state": "published"}
                if kind is Kind.REFUSED:
                    return {"name": name, "state": "not allowed", "why": payload.decode(errors="replace")}
            else:
                break
        return {"name": name, "state": "no answer"}
    finally:
        channel.close()


def describeAll() -> list[dict[str, Any]]:
    """The description of every stream in the stream directory."""
    return [describeStream(name) for name in publishedNames()]


def _format(stream: dict[str, Any]) -> str:
    if stream.get("sampleRate"):
        shape = stream.get("shape") or [0, 1]
        return f"{stream['sampleRate']:g} Hz x{shape[-1]}"
    shape = stream.get("shape")
    if not shape:
        return "-"
    if len(shape) in (2, 3):  # a picture: width x height, then its channels
        channels = f" x{shape[2]}" if len(shape) == 3 else ""
        return f"{shape[1]}x{shape[0]}{channels} {stream['dtype']}"
    return "x".join(str(n) for n in shape) + f" {stream['dtype']}"


def formatTable(streams: list[dict[str, Any]]) -> str:
    """The descriptions as a table for people."""
    rows = [("NAME", "KIND", "FORMAT", "FPS", "PROGRAMS", "DROPS", "PID", "STATE")]
    for stream in streams:
        published = stream["state"] == "published"
        rows.append(
            (
                stream["name"],
                stream.get("kind", "-"),
                _format(stream) if published else "-",
                f"{stream['fps']:.1f}" if published and stream.get("fps") else "-",
                str(stream["programs"]) if published else "-",
                str(stream["drops"]) if published else "-",
                str(stream["pid"]) if published else "-",
                stream["state"]
                if published and stream.get("ready")
                else ("not ready" if published else stream["state"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )
