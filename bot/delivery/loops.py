"""The dispatcher's machinery: a platform's loop and pool, and how a failure is read.

Each platform (Slack, Twilio) has a loop that starts calls on a small pool, so a slow or
stuck call holds one thread, not the platform.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from storage.outbox import Work

# Calls in progress at once per platform: a hung call holds one, not the platform.
POOL_SIZE = 8


class Loop:
    """One platform's loop: its kinds of work and the pool its calls run on."""

    def __init__(self, name: str, kinds: frozenset[str], size: int = POOL_SIZE) -> None:
        self.name = name
        self.kinds = kinds
        self.size = size
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"outbox-{name}")
        self._busy = 0
        self._lock = threading.Lock()
        # Set by each round: pace keys that must wait, and the soonest a bucket refills.
        self.waiting: list[str] = []
        self.pace_wait: float | None = None
        # Set when there may be work for this loop (new work stored, a call finished).
        self.kick = threading.Event()
        # Pace keys with a call in progress, and how many.
        self.in_progress: dict[str, int] = {}

    def note_wait(self, seconds: float) -> None:
        """A bucket will have what a skipped head needs in `seconds`."""
        self.pace_wait = seconds if self.pace_wait is None else min(self.pace_wait, seconds)

    def free(self) -> int:
        """Calls that can start now."""
        with self._lock:
            return self.size - self._busy

    def busy_with(self, pace_key: str) -> bool:
        """A call for this channel or sender is in progress."""
        with self._lock:
            return self.in_progress.get(pace_key, 0) > 0

    def submit(self, target: Callable[[Work], None], work: Work) -> None:
        """Run `target(work)` on the pool; it counts as busy until it returns, and its
        end kicks the loop."""
        with self._lock:
            self._busy += 1
            self.in_progress[work.pace_key] = self.in_progress.get(work.pace_key, 0) + 1

        def run() -> None:
            try:
                target(work)
            finally:
                with self._lock:
                    self._busy -= 1
                    left = self.in_progress.pop(work.pace_key, 1) - 1
                    if left:
                        self.in_progress[work.pace_key] = left
                self.kick.set()

        self.pool.submit(run)


def retry_after_seconds(headers: Any) -> float:
    """Seconds a 429 asked to wait (Retry-After), 1 when it did not say."""
    value = headers.get("Retry-After") or headers.get("retry-after") if headers else None
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


# A gateway's answer: the request never reached the platform's application.
NOT_DONE_STATUSES = frozenset({502, 503, 504})


def refused(error: BaseException) -> bool:
    """The connection was refused: the request never reached the platform."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | requests.exceptions.ConnectTimeout):
            return True
        if isinstance(current, requests.exceptions.ConnectionError) and "refused" in str(current):
            return True
        reason = getattr(current, "reason", None)
        current = (
            reason
            if isinstance(reason, BaseException)
            else current.__cause__ or current.__context__
        )
    return False
