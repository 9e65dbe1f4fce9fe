"""delivery: outbox leases and order keys, the look-up window of a send, early statuses

Revision ID: 0004_delivery
Revises: 0005_blasts
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004_delivery"
down_revision = "0005_blasts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("lease_until", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("maybe_done", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("order_key", sa.String(length=32), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sending_since", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "early_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("early_statuses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_early_statuses_sid"), ["sid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("early_statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_early_statuses_sid"))
    op.drop_table("early_statuses")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sending_since")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("order_key")
        batch_op.drop_column("maybe_done")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("owner")
