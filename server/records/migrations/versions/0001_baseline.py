"""The baseline: the schema of RepairSight 0.1 (users, API tokens, cases, sessions, the search index).

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

from alembic import op

from server.records.migrations.baseline import BASELINE_REVISION, baseline_metadata

revision = BASELINE_REVISION
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    baseline_metadata().create_all(op.get_bind())


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
