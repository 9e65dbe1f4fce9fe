"""What caretbot knows about the platforms it talks to: for /healthz, /readyz, and the
bot's Slack identity when Slack cannot be asked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from storage.types import UTCDateTime


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class IntegrationState(SQLModel, table=True):
    """One platform ("slack", "twilio"): when it last answered, when it last failed and
    why, since when it has been failing (None while it answers), and its last good
    identity answer (Slack's auth.test)."""

    __tablename__ = "integration_state"

    name: str = Field(sa_column=Column(sa.String(16), primary_key=True))
    last_success_at: datetime | None = _when(nullable=True)
    last_error_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(sa.String(500), nullable=True))
    failing_since: datetime | None = _when(nullable=True)
    identity: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
