"""Zoho access tokens in the database, so every process reuses one until it expires."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import utcnow
from storage.push.models import RECRUIT_TOKENS

tokens = RECRUIT_TOKENS


class DatabaseTokens:
    """A token store (bot.recruit.client.TokenStore) on the `recruit_tokens` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, key: str) -> tuple[str, datetime] | None:
        """The stored (access token, expiry in UTC), if any."""
        with self.db.read() as session:
            row = session.execute(
                sa.select(tokens.c.access_token, tokens.c.expires_at).where(tokens.c.key == key)
            ).first()
        return (row.access_token, row.expires_at) if row is not None else None

    def save(self, key: str, token: str, expires_at: datetime) -> None:
        """Keep the newest token for `key` (insert or replace)."""
        insert = (postgresql.insert if not self.db.is_sqlite else sqlite.insert)(tokens)
        values = {"access_token": token, "expires_at": expires_at, "updated_at": utcnow()}
        with self.db.write() as session:
            session.execute(
                insert.values(key=key, **values).on_conflict_do_update(
                    index_elements=["key"], set_=values
                )
            )
