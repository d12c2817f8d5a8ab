"""Self-help links and their runs: a procedure the customer runs alone, escalated to an expert.

Two new tables; no existing row changes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "self_help_links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("procedure_id", sa.String(100), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "self_help_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("link_id", sa.String(32), sa.ForeignKey("self_help_links.id"), nullable=False),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("escalation_reason", sa.String(16), nullable=True),
        sa.Column("step_reached", sa.String(100), nullable=True),
        sa.Column("picked_up_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("picked_up_at", sa.DateTime(), nullable=True),
        sa.Column("fixed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_self_help_runs_link_id", "self_help_runs", ["link_id"])
    op.create_index("ix_self_help_runs_case_id", "self_help_runs", ["case_id"])
    op.create_index("ix_self_help_runs_state", "self_help_runs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_self_help_runs_state", table_name="self_help_runs")
    op.drop_index("ix_self_help_runs_case_id", table_name="self_help_runs")
    op.drop_index("ix_self_help_runs_link_id", table_name="self_help_runs")
    op.drop_table("self_help_runs")
    op.drop_table("self_help_links")
