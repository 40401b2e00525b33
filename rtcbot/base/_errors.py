"""The exception that tells consumers and readers their object has closed."""

from __future__ import annotations


class SubscriptionClosed(Exception):
    """Raised by reads (``get()``, ``_get()``) once the object or its source has closed.

    A consumer's processing loop treats it as the signal to clean up and exit.
    """


SubscriptionClosed.__module__ = "rtcbot.base.base"
