"""A video jitter buffer that hands a frame to the decoder as soon as it is complete.

aiortc's own (1.x) knows a frame is complete only when a packet of the *next* frame arrives,
so every video frame waits one frame interval (33 ms at 30 fps) before decoding. The RTP
marker bit already says "last packet of this frame" (RFC 7741 for VP8, RFC 6184 for H.264):
this buffer also hands the frame on when the packets from the buffer's start up to a marked
packet are all there and of one frame. Everything else (loss, reordering, key-frame
requests) is aiortc's.
"""

from __future__ import annotations

import logging
from typing import Any

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

_log = logging.getLogger("rtcbot.RTCConnection")

#: Where aiortc 1.x keeps a receiver's jitter buffer (a private, name-mangled attribute).
_RECEIVER_BUFFER = "_RTCRtpReceiver__jitter_buffer"


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, plus: a frame leaves as soon as its marked last packet
    and all before it have arrived."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Stores ``packet``; returns (key frame needed, a frame ready for the decoder)."""
        keyFrameNeeded, frame = super().add(packet)
        if frame is None:
            frame = self._completeFrame()
        return keyFrameNeeded, frame

    def _completeFrame(self) -> JitterFrame | None:
        """The frame at the start of the buffer, removed, if it is complete up to a marker."""
        if self._origin is None:
            return None
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None or (packets and packet.timestamp != packets[0].timestamp):
                return None
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(data=b"".join(p._data for p in packets), timestamp=packet.timestamp)  # type: ignore[attr-defined]
        return None


def installOnVideoReceivers(transceivers: list[Any]) -> int:
    """Gives each video receiver that still has aiortc's own buffer a MarkerJitterBuffer
    (before any packet arrives); returns how many were given one. If aiortc keeps its
    buffer elsewhere, nothing changes and this is logged."""
    installed = 0
    for transceiver in transceivers:
        if transceiver.kind != "video":
            continue
        current = getattr(transceiver.receiver, _RECEIVER_BUFFER, None)
        if current is None:
            _log.info("this aiortc keeps its jitter buffer elsewhere: video waits one frame more")
            continue
        if type(current) is JitterBuffer:
            setattr(transceiver.receiver, _RECEIVER_BUFFER, MarkerJitterBuffer(current.capacity, is_video=True))
            installed += 1
    return installed
