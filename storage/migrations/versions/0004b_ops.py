"""integration state: last success and error per platform, the bot's Slack identity

Revision ID: 0004b_ops
Revises: 0004g_slack_surface
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004b_ops"
down_revision = "0004g_slack_surface"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_state",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("last_success_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("failing_since", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("identity", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("integration_state")
