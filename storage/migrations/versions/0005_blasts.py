"""blasts: blasts, recipients and tracked links

Revision ID: 0005_blasts
Revises: 0004b_ops
Create Date: 2026-12-03 18:42:21.855759
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types


revision = "0005_blasts"
down_revision = "0004b_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "blasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("send_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("nudge_after_seconds", sa.Integer(), nullable=True),
        sa.Column("nudge_message", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("pause_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("team_number", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("slack_channel", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("slack_ts", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["candidate_lists.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("blasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blasts_list_id"), ["list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_blasts_status"), ["status"], unique=False)

    op.create_table(
        "blast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blast_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("skip_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("hold_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("message_sid", sa.String(length=64), nullable=True),
        sa.Column("delivery_status", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opted_out_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("nudge_state", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("nudge_message_id", sa.Integer(), nullable=True),
        sa.Column("nudged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blast_id"],
            ["blasts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.ForeignKeyConstraint(
            ["nudge_message_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("blast_id", "phone", name="uq_blast_recipients_phone"),
        sa.UniqueConstraint("message_sid"),
    )
    with op.batch_alter_table("blast_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blast_recipients_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_blast_recipients_phone"), ["phone"], unique=False)
        batch_op.create_index("ix_blast_recipients_state", ["blast_id", "state"], unique=False)

    op.create_table(
        "blast_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("first_clicked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["blast_recipients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("blast_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blast_links_recipient_id"), ["recipient_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("blast_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blast_links_recipient_id"))

    op.drop_table("blast_links")
    with op.batch_alter_table("blast_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_blast_recipients_state")
        batch_op.drop_index(batch_op.f("ix_blast_recipients_phone"))
        batch_op.drop_index(batch_op.f("ix_blast_recipients_candidate_id"))

    op.drop_table("blast_recipients")
    with op.batch_alter_table("blasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blasts_status"))
        batch_op.drop_index(batch_op.f("ix_blasts_list_id"))

    op.drop_table("blasts")
