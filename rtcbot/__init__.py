"""rtcbot: asyncio producers and consumers for live media on small machines.

Importing rtcbot loads no device library (cv2, sounddevice); devices import theirs when used.
The WebRTC part (aiortc, an extra) loads on first use of ``rtcbot.RTCConnection``.
"""

import importlib
from typing import Any

from .arduino import SerialConnection
from .base import (
    BaseSubscriptionConsumer,
    BaseSubscriptionProducer,
    ClosedBeforeReady,
    ConsumerClosed,
    NoClosedSubscription,
    ProcessSubscriptionConsumer,
    ProcessSubscriptionProducer,
    ProcessSubscriptionProducerConsumer,
    ProducerClosed,
    SourceEnded,
    Subscription,
    SubscriptionClosed,
    SubscriptionConsumer,
    SubscriptionProducer,
    SubscriptionProducerConsumer,
    ThreadedSubscriptionConsumer,
    ThreadedSubscriptionProducer,
)
from .devices import (
    GPS,
    CVCamera,
    CVDisplay,
    Microphone,
    PiCamera2,
    Speaker,
    SyntheticCamera,
    SyntheticMicrophone,
)
from .inputs import Gamepad, Keyboard, Mouse
from .shm import Frame
from .streams import AttachedStream, Publication, attach
from .subscriptions import (
    CallbackSubscription,
    DelayedSubscription,
    EventSubscription,
    GetterSubscription,
    MostRecentSubscription,
    RebatchSubscription,
)
from .watchdog import Watchdog

__version__ = "0.3.0.dev0"

#: Names served by an optional part of the package, imported on first use.
_LAZY = {
    "RTCConnection": "rtcbot.webrtc",
    "Websocket": "rtcbot.webrtc",
    "getRTCBotJS": "rtcbot.webrtc.signalling",
}  # not in __all__: "import *" must not need the extra


def __getattr__(name: str) -> Any:
    """Imports an optional part (WebRTC) when one of its names is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rtcbot' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ImportError as error:
        raise ImportError(f"rtcbot.{name} needs the WebRTC extra: pip install 'rtcbot[webrtc]' ({error})") from error
    globals()[name] = value
    return value


__all__ = [
    "AttachedStream",
    "BaseSubscriptionConsumer",
    "CVCamera",
    "CVDisplay",
    "Microphone",
    "PiCamera2",
    "Speaker",
    "SyntheticMicrophone",
    "BaseSubscriptionProducer",
    "CallbackSubscription",
    "ClosedBeforeReady",
    "ConsumerClosed",
    "DelayedSubscription",
    "EventSubscription",
    "Frame",
    "GPS",
    "Gamepad",
    "GetterSubscription",
    "Keyboard",
    "MostRecentSubscription",
    "Mouse",
    "NoClosedSubscription",
    "ProcessSubscriptionConsumer",
    "ProcessSubscriptionProducer",
    "ProcessSubscriptionProducerConsumer",
    "ProducerClosed",
    "Publication",
    "RebatchSubscription",
    "SerialConnection",
    "SourceEnded",
    "Subscription",
    "SubscriptionClosed",
    "SyntheticCamera",
    "SubscriptionConsumer",
    "SubscriptionProducer",
    "SubscriptionProducerConsumer",
    "ThreadedSubscriptionConsumer",
    "ThreadedSubscriptionProducer",
    "Watchdog",
    "__version__",
    "attach",
]
