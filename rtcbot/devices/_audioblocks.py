"""Turning what a user sends a speaker into float32 (samples, channels) blocks."""

from __future__ import annotations

from typing import Any

import numpy as np

Block = np.ndarray[Any, np.dtype[np.float32]]

#: Full scale of the integer sample formats.
_FULL_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


class BadAudioBlock(ValueError):
    """A block that cannot be played: wrong type, dtype or shape."""


def toPlayable(block: Any, channels: int) -> Block:
    """``block`` as float32 of shape (samples, channels).

    Accepts float (any precision; -1..1), int16, int32 and uint8 (offset 128) samples, as
    (samples,) or (samples, 1) mono (copied to every channel), (samples, channels), or any
    number of channels into a mono speaker (averaged).
    """
    if not isinstance(block, np.ndarray):
        raise BadAudioBlock(f"audio blocks must be numpy arrays, got {type(block).__name__}")
    samples = _asFloat32(block)
    if samples.ndim == 1:
        samples = samples[:, np.newaxis]
    if samples.ndim != 2:
        raise BadAudioBlock(f"an audio block must be (samples,) or (samples, channels), got shape {block.shape}")
    have = samples.shape[1]
    if have == channels:
        return samples
    if have == 1:
        return np.repeat(samples, channels, axis=1)
    if channels == 1:
        mono: Block = samples.mean(axis=1, keepdims=True, dtype=np.float32)
        return mono
    raise BadAudioBlock(
        f"a block of {have} channels (shape {block.shape}) cannot play on a {channels}-channel "
        f"speaker: send (samples,), (samples, 1) or (samples, {channels})"
    )


def _asFloat32(block: np.ndarray[Any, Any]) -> Block:
    kind = block.dtype.kind
    if kind == "f":
        return block.astype(np.float32, copy=False)
    if block.dtype in _FULL_SCALE:
        return (block * (1 / _FULL_SCALE[block.dtype])).astype(np.float32)
    if block.dtype == np.uint8:
        return ((block.astype(np.float32) - 128) / 128).astype(np.float32)
    raise BadAudioBlock(
        f"audio samples must be float, int16, int32 or uint8, got {block.dtype}; "
        "convert with block.astype(np.float32) (scaled to -1..1)"
    )
