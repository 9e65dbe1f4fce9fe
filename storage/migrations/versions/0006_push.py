"""push: rules, runs, history and Zoho tokens

Revision ID: 0006_push
Revises: 0005_blasts
Create Date: 2026-12-03 18:46:52.114298
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types


revision = "0006_push"
down_revision = "0005_blasts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("push_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ux_push_runs_running",
            ["state"],
            unique=True,
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        )

    op.create_table(
        "recruit_tokens",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("access_token", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "push_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("engagement", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("field_map", sa.JSON(), nullable=True),
        sa.Column("status_field", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("enabled_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_run_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["candidate_lists.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("list_id", "module", "engagement", name="uq_push_rules_rule"),
    )
    with op.batch_alter_table("push_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_rules_list_id"), ["list_id"], unique=False)

    op.create_table(
        "push_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("engaged_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("error_field", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("recruit_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["push_rules.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["push_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("push_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_push_history_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            "ix_push_history_rule_candidate",
            ["rule_id", "candidate_id", "engaged_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_push_history_run_id"), ["run_id"], unique=False)
        batch_op.create_index("ix_push_history_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_history", schema=None) as batch_op:
        batch_op.drop_index("ix_push_history_state")
        batch_op.drop_index(batch_op.f("ix_push_history_run_id"))
        batch_op.drop_index("ix_push_history_rule_candidate")
        batch_op.drop_index(batch_op.f("ix_push_history_candidate_id"))

    op.drop_table("push_history")
    with op.batch_alter_table("push_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_rules_list_id"))

    op.drop_table("push_rules")
    op.drop_table("recruit_tokens")
    with op.batch_alter_table("push_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_push_runs_running",
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        )

    op.drop_table("push_runs")
