"""Token buckets: send at a platform's rate instead of provoking its rate limit.

A bucket of `rate` tokens a second holds at most `burst`. A cost larger than the bucket
(a 10-segment text on a sender allowed 1 segment a second) is taken from a full bucket
and leaves it in debt: nothing else goes from that sender until the debt is paid, so
the text goes out alone and the rate holds over time. A cost can therefore never wait
forever (Twilio counts a sender's rate in segments; Slack's chat.postMessage allows
about one message a second per channel).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`; may go into debt for a big cost.

    `window=True` also keeps every one-second window at `rate` or less (Twilio's
    segments per second): a cost bigger than that goes only into an empty window, so it
    is alone in every window it is part of.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: bool = False,
    ):
        self.rate = rate
        self.burst = burst
        self.window = window
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, float]] = deque()  # (when, cost) in the last second

    def _window_wait(self, cost: float, now: float) -> float:
        """Seconds until a one-second window from now has room for `cost`."""
        if not self.window:
            return 0.0
        while self._recent and self._recent[0][0] <= now - 1.0:
            self._recent.popleft()
        held = sum(taken for _, taken in self._recent)

        def fits() -> bool:
            return held <= 1e-9 or held + cost <= self.rate + 1e-9

        if fits():
            return 0.0
        for when, taken in self._recent:
            held -= taken
            if fits():
                return max(0.0, when + 1.0 - now)
        return 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _needed(self, cost: float) -> float:
        # A cost over the bucket's size needs a full bucket, then leaves a debt.
        return min(cost, self.burst)

    def try_take(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens if they are there (a full bucket for a cost over `burst`)."""
        with self._lock:
            self._refill()
            if self._tokens < self._needed(cost) - 1e-9 or self._window_wait(cost, self._stamp):
                return False
            self._tokens -= cost
            if self.window:
                self._recent.append((self._stamp, cost))
            return True

    def give_back(self, cost: float) -> None:
        """Return tokens taken for work that was not done after all."""
        with self._lock:
            self._refill()
            self._tokens = min(self.burst, self._tokens + cost)

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until `try_take(cost)` will succeed (never infinite)."""
        with self._lock:
            self._refill()
            tokens = (self._needed(cost) - self._tokens) / self.rate
            return max(0.0, tokens, self._window_wait(cost, self._stamp))

    def take(self, cost: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> float:
        """Wait until `cost` tokens can be taken and take them; the seconds waited."""
        waited = 0.0
        while not self.try_take(cost):
            pause = max(0.001, self.wait_time(cost))
            sleep(pause)
            waited += pause
        return waited

    def pause(self, seconds: float) -> None:
        """Hold everything back for `seconds` (a platform said Retry-After, or is down)."""
        with self._lock:
            self._refill()
            # After `seconds`, exactly the first token is back (not a whole burst).
            self._tokens = min(self._tokens, min(1.0, self.burst)) - seconds * self.rate

    def paused_for(self) -> float:
        """Seconds until even one token is there (0 when the bucket can send now)."""
        return self.wait_time(min(1.0, self.burst))


class Pacer:
    """One bucket per key (a Slack channel, a Twilio sender), made on first use."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: bool = False,
    ):
        self.rate = rate
        self.burst = burst
        self.window = window
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: str) -> TokenBucket:
        """The bucket of `key` (a pace key such as "twilio:+15125550100")."""
        with self._lock:
            if key not in self._buckets:
                self._buckets[key] = TokenBucket(
                    self.rate, self.burst, self._clock, window=self.window
                )
            return self._buckets[key]

    def items(self) -> list[tuple[str, TokenBucket]]:
        """Every (key, bucket) made so far."""
        with self._lock:
            return list(self._buckets.items())
