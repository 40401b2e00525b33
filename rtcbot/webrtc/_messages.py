"""How data-channel messages are written and read: JSON values as text, bytes as they are."""

from __future__ import annotations

import json
from typing import Any, NamedTuple


class EncodedMessage(NamedTuple):
    """A message already checked and encoded at ``put_nowait`` time, queued for sending."""

    payload: str | bytes


def encodeMessage(message: Any, useJson: bool) -> str | bytes:
    """The payload for ``message``: bytes go as binary, anything else as JSON text (or, with
    ``useJson`` False, only ``str`` as it is). Raises ``TypeError`` saying what is wrong."""
    if isinstance(message, EncodedMessage):
        return message.payload
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    if not useJson:
        if isinstance(message, str):
            return message
        raise TypeError(
            f"this data channel sends text as it is (json=False): messages must be str or bytes, "
            f"got {type(message).__name__}"
        )
    try:
        return json.dumps(message, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"a data-channel message must be bytes or a JSON value (str, number, bool, None, and "
            f"lists and dicts of them); {message!r:.80} is not: {error}"
        ) from None


def decodeMessage(data: str | bytes, useJson: bool) -> Any:
    """What a received payload stands for: bytes as they are; text parsed as JSON when it is
    JSON (and ``useJson``), else the text itself."""
    if isinstance(data, bytes) or not useJson:
        return data
    try:
        return json.loads(data)
    except ValueError:
        return data
