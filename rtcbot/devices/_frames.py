"""What the cameras share: they produce frames, and by default a reader gets the newest."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from ..base.multiprocess import ProcessSubscriptionProducer
from ..shm.frame import Frame
from ..subscriptions import MostRecentSubscription

S = TypeVar("S")


class FrameSource(ProcessSubscriptionProducer[Frame]):
    """A process producer of :class:`~rtcbot.shm.Frame` objects whose default subscription
    is a :class:`~rtcbot.subscriptions.MostRecentSubscription`: a slow reader skips frames
    instead of falling behind. Keyword arguments go to ``ProcessSubscriptionProducer``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("defaultSubscriptionClass", MostRecentSubscription)
        super().__init__(**kwargs)

    @overload
    def subscribe(self, subscription: None = None) -> MostRecentSubscription[Frame]: ...
    @overload
    def subscribe(self, subscription: S) -> S: ...
    def subscribe(self, subscription: object = None) -> object:
        """As ``BaseSubscriptionProducer.subscribe``; without argument the new subscription
        keeps only the newest frame (typed so: a ``defaultSubscriptionClass`` given to
        the constructor is taken at run time, but type checkers are not told)."""
        return super().subscribe(subscription)


def describeRate(fps: float) -> str:
    """A frame rate as ``repr()`` of a camera shows it."""
    return f"{fps:g} fps"
