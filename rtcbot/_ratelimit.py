"""A logger wrapper that reports a repeating failure at most once per interval."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable


class RateLimitedLog:
    """Logs each distinct problem (by key) at most once every ``interval`` seconds.

    Repeats inside the interval are counted and the count is reported with the next
    message, so a failure that happens on every frame never floods the log.
    """

    def __init__(self, logger: logging.Logger, interval: float = 5.0) -> None:
        self._logger = logger
        self._interval = interval
        self._lastLogged: dict[Hashable, float] = {}
        self._suppressed: dict[Hashable, int] = {}

    def log(
        self,
        key: Hashable,
        level: int,
        message: str,
        *args: object,
        exc_info: BaseException | None = None,
    ) -> None:
        now = time.monotonic()
        last = self._lastLogged.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._lastLogged[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += f" ({suppressed} similar messages suppressed)"
        self._logger.log(level, message, *args, exc_info=exc_info)
