"""WebRTC for rtcbot, on aiortc (``pip install 'rtcbot[webrtc]'``): :class:`RTCConnection`
to a browser or another program, with data channels, video and audio.

``import rtcbot`` does not load this package; ``rtcbot.RTCConnection`` does, on first use.
"""

from .connection import RTCConnection, Teardown
from .datachannel import DataChannel, DataChannelStatistics
from .media import ConnectionAudioHandler, ConnectionVideoHandler, MediaStatistics, RenegotiationNeeded
from .tracks import ReceivedTrack, SendingTrack
from .websocket import Websocket

__all__ = [
    "ConnectionAudioHandler",
    "ConnectionVideoHandler",
    "DataChannel",
    "DataChannelStatistics",
    "MediaStatistics",
    "RTCConnection",
    "ReceivedTrack",
    "RenegotiationNeeded",
    "SendingTrack",
    "Teardown",
    "Websocket",
]
