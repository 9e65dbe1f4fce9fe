"""Token buckets: send at a platform's rate instead of provoking its rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens if they are there."""
        with self._lock:
            self._refill()
            if self._tokens >= cost:
                self._tokens -= cost
                return True
            return False

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens will be there."""
        with self._lock:
            self._refill()
            return max(0.0, (cost - self._tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        """Hold back for `seconds` (a platform said Retry-After)."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate


class Pacer:
    """One bucket per key (a Slack channel, a Twilio sender), made on first use."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, key: str) -> TokenBucket:
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
        return self._buckets[key]
