"""WebRTC for rtcbot, on aiortc (``pip install 'rtcbot[webrtc]'``): :class:`RTCConnection`
to a browser or another program, with data channels, video and audio.

``import rtcbot`` does not load this package; ``rtcbot.RTCConnection`` does, on first use.
"""

import contextlib
import importlib

# OpenCV first, when installed: PyAV's wheels (aiortc's codecs, imported below) bundle a
# libxcb of their own, and an OpenCV loaded after them binds its Qt window's xcb calls to
# that copy, so that the first window (CVDisplay, also in a child forked from here, or
# cv2.imshow) hangs while it opens (PyAV-Org/PyAV#1050, opencv/opencv#29195).
with contextlib.suppress(ImportError):
    importlib.import_module("cv2")

from ._liveness import LinkState, LivenessStatistics
from .connection import CloseReason, PeerGone, RTCConnection, Teardown
from .datachannel import DataChannel, DataChannelStatistics
from .media import ConnectionAudioHandler, ConnectionVideoHandler, MediaStatistics, RenegotiationNeeded
from .tracks import ReceivedTrack, SendingTrack
from .websocket import Websocket

__all__ = [
    "CloseReason",
    "ConnectionAudioHandler",
    "ConnectionVideoHandler",
    "DataChannel",
    "DataChannelStatistics",
    "LinkState",
    "LivenessStatistics",
    "MediaStatistics",
    "PeerGone",
    "RTCConnection",
    "ReceivedTrack",
    "RenegotiationNeeded",
    "SendingTrack",
    "Teardown",
    "Websocket",
]
