"""Client-side rate limiting for APIs that publish no limit of their own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """A token bucket: at most `rate` requests a second, halved for `cooldown` seconds after each 429."""

    def __init__(self, rate: float, *, cooldown: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.rate = float(rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._next_free = 0.0
        self._slow_until = 0.0

    def _current_rate(self, now: float) -> float:
        return self.rate / 2 if now < self._slow_until else self.rate

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next_free)
            self._next_free = start + 1.0 / self._current_rate(now)
        delay = start - now
        if delay > 0:
            time.sleep(delay)

    def throttled(self, retry_after: float | None) -> None:
        """A 429 was seen: halve the rate for a while and hold everyone back until Retry-After passes."""
        with self._lock:
            now = self._clock()
            self._slow_until = now + self.cooldown
            if retry_after:
                self._next_free = max(self._next_free, now + retry_after)
