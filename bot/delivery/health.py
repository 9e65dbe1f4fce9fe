"""Each platform's last success and last error, as the outbox dispatcher sees them,
written where /healthz and /readyz (another process) can read them: the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from storage import integrations
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

# A success is written at most this often per platform (a busy outbox would otherwise
# write once per delivery); a change between working and failing is written at once.
WRITE_EVERY_SECONDS = 5.0


class PlatformHealth:
    """Records outcomes per platform ("slack", "twilio"), thread-safe."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, tuple[bool, float]] = {}

    def record(self, platform: str, ok: bool, error: str | None = None) -> None:
        """One attempt's outcome: `ok` when the platform did the work (or answered that
        it never will), else the error that said why not. Never raises."""
        now = self.clock()
        with self._lock:
            last = self._last.get(platform)
            if ok and last is not None and last[0] and now - last[1] < WRITE_EVERY_SECONDS:
                return
            self._last[platform] = (ok, now)
        try:
            with self.db.write() as session:
                if ok:
                    integrations.record_success(session=session, name=platform, at=utcnow())
                else:
                    integrations.record_error(
                        session=session, name=platform, at=utcnow(), error=error or "failed"
                    )
        except Exception as failure:  # health must never stop a delivery
            log.warning("health.not_recorded", platform=platform, error=repr(failure))
