"""What /healthz and /readyz say: per platform (Slack, Twilio) its last success and last
error, since when it has been failing, its outbox backlog and the age of the oldest
entry; and whether caretbot is ready (no platform failing for READY_UNREACHABLE_SECONDS,
no waiting entry older than READY_MAX_BACKLOG_AGE_SECONDS).

/healthz answers 200 while the database answers (a load balancer's liveness check:
restarting caretbot does not bring Slack back), with `status` "degraded" when not
ready; /readyz answers 503 when not ready, with the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from bot.settings import Settings
from storage import integrations, outbox
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)


@dataclass
class Report:
    """The health of caretbot at one moment; `body` is the JSON /healthz answers."""

    database_ok: bool
    body: dict[str, Any]
    not_ready: list[str] = field(default_factory=list)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def report(
    settings: Settings, db: Database, workers_running: bool | None, now: datetime | None = None
) -> Report:
    """Read the database and say how caretbot is; never raises."""
    now = now or utcnow()
    modes = {
        "slack": "socket_mode" if settings.socket_mode else "events_api",
        "twilio": "messaging_service" if settings.TWILIO_MESSAGING_SERVICE_SID else "number",
    }
    try:
        with db.read() as session:
            waiting = outbox.waiting_by_platform(session=session)
            states = integrations.states(session=session)
    except Exception as error:  # any database failure means unhealthy
        log.error("health.database_unreachable", error=type(error).__name__)
        return Report(
            database_ok=False,
            body={"status": "unhealthy", "database": "unreachable", "integrations": modes},
            not_ready=["the database does not answer"],
        )
    not_ready: list[str] = []
    platforms: dict[str, Any] = {}
    for name, mode in modes.items():
        state = states[name]
        queue = waiting.get(name, outbox.Waiting())
        age = (now - queue.oldest_created_at).total_seconds() if queue.oldest_created_at else None
        failing = (now - state.failing_since).total_seconds() if state.failing_since else None
        platforms[name] = {
            "mode": mode,
            "last_success_at": _iso(state.last_success_at),
            "last_error_at": _iso(state.last_error_at),
            "last_error": state.last_error,
            "failing_since": _iso(state.failing_since),
            "backlog": queue.count,
            "oldest_entry_age_seconds": round(age, 1) if age is not None else None,
        }
        if failing is not None and failing > settings.READY_UNREACHABLE_SECONDS:
            not_ready.append(f"{name} has been failing for {int(failing)} s: {state.last_error}")
        if age is not None and age > settings.READY_MAX_BACKLOG_AGE_SECONDS:
            not_ready.append(f"the oldest {name} outbox entry has waited {int(age)} s")
    if workers_running is False:
        not_ready.append("the outbox dispatcher and the scheduler are not running")
    body = {
        "status": "ok" if not not_ready else "degraded",
        "database": "ok",
        "integrations": platforms,
        "outbox_backlog": sum(queue.count for queue in waiting.values()),
        "workers": {None: "off", True: "running", False: "down"}[workers_running],
    }
    return Report(database_ok=True, body=body, not_ready=not_ready)
