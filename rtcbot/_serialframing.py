"""How a :class:`~rtcbot.arduino.SerialConnection` cuts the bytes of a serial port into
messages, and turns messages into bytes: RTCBot's ``readFormat``/``writeFormat`` (lines,
raw chunks or C structs), ``readKeys``/``writeKeys`` and ``startByte``."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

#: ``readFormat`` of line mode: messages are the bytes between newlines.
LINES = "\n"

#: A line longer than this (no newline yet) is garbage: it is dropped and counted.
MAX_LINE_BYTES = 64 * 1024


def _struct(role: str, format: str) -> struct.Struct:
    try:
        return struct.Struct(format)
    except struct.error as error:
        raise ValueError(
            f"{role}={format!r} is not a struct format ({error}); use the codes of Python's struct "
            "module, starting with '<' for an Arduino (little-endian, packed), e.g. '<hB'"
        ) from None


def _keys(
    role: str, keys: Sequence[str] | None, layout: struct.Struct | None, formatRole: str
) -> tuple[str, ...] | None:
    if keys is None:
        return None
    if layout is None:
        raise ValueError(f"{role} needs a struct {formatRole} (e.g. '<hB') to say how the values are packed")
    if isinstance(keys, str):
        raise TypeError(f"{role} must be a list of names, got the string {keys!r}; e.g. ['speed', 'turn']")
    names = tuple(keys)
    count = len(layout.unpack(bytes(layout.size)))
    if len(names) != count:
        raise ValueError(
            f"{role} has {len(names)} names {list(names)}, but {formatRole}={layout.format!r} packs {count} values"
        )
    return names


def startMarker(startByte: int | bytes | Sequence[int] | None) -> bytes | None:
    """RTCBot's ``startByte`` as bytes: an int is one byte; bytes or a list of ints is a sequence."""
    if startByte is None:
        return None
    if isinstance(startByte, int):
        if not 0 <= startByte <= 255:
            raise ValueError(f"startByte must be a byte (0 to 255), got {startByte}")
        return bytes([startByte])
    try:
        marker = bytes(startByte)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"startByte must be an int, bytes or a list of ints 0-255, got {startByte!r} ({error})"
        ) from None
    if not marker:
        raise ValueError("startByte must not be empty; pass None to read from the first byte")
    return marker


class SerialDecoder:
    """Turns the bytes read from the port into messages.

    With a ``startMarker``, everything before it is skipped (and counted) after each
    :meth:`restart`: a board says it has (re)started by sending it. A message cut short
    when the port is lost, and a line longer than :data:`MAX_LINE_BYTES`, are dropped and
    counted as partial; nothing incomplete is ever delivered.
    """

    def __init__(self, readFormat: str | None, readKeys: Sequence[str] | None, startMarker: bytes | None) -> None:
        self._lines = readFormat == LINES
        self._layout = None if readFormat is None or self._lines else _struct("readFormat", readFormat)
        self._keys = _keys("readKeys", readKeys, self._layout, "readFormat")
        self._marker = startMarker
        self._buffer = bytearray()
        self.started = startMarker is None
        self.skippedBytes = 0
        """Bytes thrown away: before the start marker, or in a line too long to be one."""
        self.partialMessages = 0
        """Incomplete messages dropped: cut by a lost port, or lines over the size limit."""

    def restart(self) -> None:
        """The port was (re)opened: drops what is left of the last message, waits for the
        start marker again."""
        if self._buffer:
            if self.started:
                self.partialMessages += 1
            else:
                self.skippedBytes += len(self._buffer)
            self._buffer.clear()
        self.started = self._marker is None

    def feed(self, data: bytes) -> list[Any]:
        """The complete messages that ``data`` finishes, in order."""
        self._buffer += data
        if not self.started and not self._findStart():
            return []
        if self._layout is not None:
            return self._structs(self._layout)
        if self._lines:
            return self._splitLines()
        chunk = bytes(self._buffer)
        self._buffer.clear()
        return [chunk] if chunk else []

    def _findStart(self) -> bool:
        assert self._marker is not None
        found = self._buffer.find(self._marker)
        if found < 0:
            keep = len(self._marker) - 1  # the marker's first bytes may end this read
            drop = max(0, len(self._buffer) - keep)
            self.skippedBytes += drop
            del self._buffer[:drop]
            return False
        self.skippedBytes += found
        del self._buffer[: found + len(self._marker)]
        self.started = True
        return True

    def _structs(self, layout: struct.Struct) -> list[Any]:
        complete = len(self._buffer) // layout.size
        messages: list[Any] = []
        for values in layout.iter_unpack(bytes(self._buffer[: complete * layout.size])):
            messages.append(dict(zip(self._keys, values, strict=False)) if self._keys is not None else values)
        del self._buffer[: complete * layout.size]
        return messages

    def _splitLines(self) -> list[Any]:
        *lines, rest = bytes(self._buffer).split(b"\n")
        self._buffer[:] = rest
        if len(self._buffer) > MAX_LINE_BYTES:
            self.skippedBytes += len(self._buffer)
            self.partialMessages += 1
            self._buffer.clear()
        return lines


class SerialEncoder:
    """Turns a message into the bytes to write: ``str`` (UTF-8) and bytes as they are;
    with a struct ``writeFormat``, a tuple or list of values, or with ``writeKeys`` a dict
    (or any mapping) holding those keys."""

    def __init__(self, writeFormat: str | None, writeKeys: Sequence[str] | None) -> None:
        self._layout = None if writeFormat is None else _struct("writeFormat", writeFormat)
        self._keys = _keys("writeKeys", writeKeys, self._layout, "writeFormat")

    def encode(self, message: Any) -> bytes:
        """The bytes of ``message``; ``TypeError``/``ValueError`` say what is wrong with it."""
        if self._layout is None:
            if isinstance(message, str):
                return message.encode()
            if isinstance(message, (bytes, bytearray, memoryview)):
                return bytes(message)
            raise TypeError(
                f"SerialConnection without a writeFormat sends str or bytes, got {type(message).__name__} "
                f"{message!r}; give writeFormat (and writeKeys) to send structs"
            )
        if self._keys is not None:
            try:
                values = [message[key] for key in self._keys]
            except (KeyError, TypeError) as error:
                raise TypeError(
                    f"SerialConnection with writeKeys={list(self._keys)} needs a dict with those keys, got {message!r} "
                    f"(missing or unreadable: {error})"
                ) from None
        elif isinstance(message, (tuple, list)):
            values = list(message)
        else:
            raise TypeError(
                f"SerialConnection with writeFormat={self._layout.format!r} needs a tuple or list of values "
                f"(or writeKeys and a dict), got {message!r}"
            )
        try:
            return self._layout.pack(*values)
        except struct.error as error:
            raise ValueError(f"{message!r} does not fit writeFormat={self._layout.format!r}: {error}") from None
