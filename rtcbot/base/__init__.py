"""The base classes of rtcbot: producers, consumers and their lifecycle events."""

from .base import (
    BaseSubscriptionConsumer,
    BaseSubscriptionProducer,
    NoClosedSubscription,
    SubscriptionClosed,
    SubscriptionConsumer,
    SubscriptionProducer,
    SubscriptionProducerConsumer,
)
from .events import baseEventHandler, threadedEventHandler
from .multiprocess import (
    ProcessSubscriptionConsumer,
    ProcessSubscriptionProducer,
    ProcessSubscriptionProducerConsumer,
)
from .thread import ThreadedSubscriptionConsumer, ThreadedSubscriptionProducer

__all__ = [
    "BaseSubscriptionConsumer",
    "BaseSubscriptionProducer",
    "NoClosedSubscription",
    "ProcessSubscriptionConsumer",
    "ProcessSubscriptionProducer",
    "ProcessSubscriptionProducerConsumer",
    "SubscriptionClosed",
    "SubscriptionConsumer",
    "SubscriptionProducer",
    "SubscriptionProducerConsumer",
    "ThreadedSubscriptionConsumer",
    "ThreadedSubscriptionProducer",
    "baseEventHandler",
    "threadedEventHandler",
]
