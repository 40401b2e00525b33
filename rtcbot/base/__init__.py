"""The base classes of rtcbot: producers, consumers and their lifecycle events."""

from .base import (
    BaseSubscriptionConsumer,
    BaseSubscriptionProducer,
    ClosedBeforeReady,
    ConsumerClosed,
    NoClosedSubscription,
    ProducerClosed,
    SourceEnded,
    Subscription,
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
    "ClosedBeforeReady",
    "ConsumerClosed",
    "NoClosedSubscription",
    "ProcessSubscriptionConsumer",
    "ProcessSubscriptionProducer",
    "ProcessSubscriptionProducerConsumer",
    "ProducerClosed",
    "SourceEnded",
    "Subscription",
    "SubscriptionClosed",
    "SubscriptionConsumer",
    "SubscriptionProducer",
    "SubscriptionProducerConsumer",
    "ThreadedSubscriptionConsumer",
    "ThreadedSubscriptionProducer",
    "baseEventHandler",
    "threadedEventHandler",
]
