"""The JSON messages of a stream's socket (HELLO, INFO, REFUSED) on top of :mod:`rtcbot.shm.protocol`."""

from __future__ import annotations

import json
from typing import Any

from ..shm.protocol import Kind, encode

#: What an attached program asks for in its HELLO.
WANT_FRAMES = "frames"
WANT_INFO = "info"


def encodeJson(kind: Kind, value: dict[str, Any]) -> bytes:
    """A message carrying ``value`` as JSON."""
    return encode(kind, json.dumps(value).encode())


def decodeJson(payload: bytes) -> dict[str, Any]:
    """The JSON object a message carries; ValueError if it is not one."""
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {value!r}")
    return value


def hello(want: str, pid: int) -> bytes:
    """An attached program's first message: frames, or only the stream's description."""
    return encodeJson(Kind.HELLO, {"want": want, "pid": pid})
