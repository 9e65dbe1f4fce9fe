"""Hands the scheduler's push job its Zoho Recruit client, built from the settings.

scheduler/ never imports bot/, so the worker process gives scheduler.push a factory: a
new client per run, sharing access tokens through the database.
"""

from __future__ import annotations

import structlog

from bot.recruit.client import RecruitClient, client_for
from bot.settings import Settings, SettingsError, require_push
from scheduler import push
from storage.db import Database
from storage.push.rules import any_enabled
from storage.push.tokens import DatabaseTokens

log = structlog.get_logger(__name__)


def configure_push(settings: Settings, db: Database) -> bool:
    """Arm the recurring push (every PUSH_INTERVAL_MINUTES) when Zoho is configured;
    False (and a warning if a rule is enabled) when it is not."""
    try:
        require_push(settings)
    except SettingsError:
        push.configure(db, make_recruit=None, channel=None, interval_minutes=60)
        with db.read() as session:
            if any_enabled(session=session):
                log.warning("push.not_configured", missing="ZOHO_CLIENT_ID/SECRET/REFRESH_TOKEN")
        return False

    def make_recruit() -> RecruitClient:
        return client_for(settings, DatabaseTokens(db))

    push.configure(
        db,
        make_recruit=make_recruit,
        channel=settings.SLACK_CHANNEL_ID,
        interval_minutes=settings.PUSH_INTERVAL_MINUTES,
    )
    return True
