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
from .thread import ThreadedSubscriptionConsumer, ThreadedSubscriptionProducer

__all__ = [
    "BaseSubscriptionConsumer",
    "BaseSubscriptionProducer",
    "NoClosedSubscription",
    "SubscriptionClosed",
    "SubscriptionConsumer",
    "SubscriptionProducer",
    "SubscriptionProducerConsumer",
    "ThreadedSubscriptionConsumer",
    "ThreadedSubscriptionProducer",
    "baseEventHandler",
    "threadedEventHandler",
]
