"""rtcbot: asyncio producers and consumers for live media on small machines.

Importing rtcbot loads no device library (cv2, sounddevice); devices import theirs when used.
"""

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
    CVCamera,
    CVDisplay,
    Microphone,
    PiCamera2,
    Speaker,
    SyntheticCamera,
    SyntheticMicrophone,
)
from .shm import Frame
from .subscriptions import (
    CallbackSubscription,
    DelayedSubscription,
    EventSubscription,
    GetterSubscription,
    MostRecentSubscription,
    RebatchSubscription,
)

__version__ = "0.3.0.dev0"

__all__ = [
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
    "GetterSubscription",
    "MostRecentSubscription",
    "NoClosedSubscription",
    "ProcessSubscriptionConsumer",
    "ProcessSubscriptionProducer",
    "ProcessSubscriptionProducerConsumer",
    "ProducerClosed",
    "RebatchSubscription",
    "SourceEnded",
    "Subscription",
    "SubscriptionClosed",
    "SyntheticCamera",
    "SubscriptionConsumer",
    "SubscriptionProducer",
    "SubscriptionProducerConsumer",
    "ThreadedSubscriptionConsumer",
    "ThreadedSubscriptionProducer",
    "__version__",
]
