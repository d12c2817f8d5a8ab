"""Cases say who made them (``source``) and carry an integration's reference and idempotency key;
a self-help link can belong to one case.

- ``cases.source``: ``console`` for the rows already stored, but ``self_help`` for a case a
  self-help run points at (revision 0004 made those).
- ``cases.external_reference`` (indexed, not unique), ``cases.idempotency_key`` (a unique index:
  one case per key, whoever races) and ``cases.idempotency_fingerprint`` (the request it came with).
- ``cases.closed_at``: when it was closed (for the time to resolution); a case already closed gets
  its ``updated_at``, the best guess there is.
- ``self_help_links.case_id``: the case a link made through ``POST /api/cases`` runs on.

No row is lost; every new column is nullable or has a plain default.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

CASES = sa.table(
    "cases",
    sa.column("id", sa.String),
    sa.column("source", sa.String),
    sa.column("status", sa.String),
    sa.column("updated_at", sa.DateTime),
    sa.column("closed_at", sa.DateTime),
)
RUNS = sa.table("self_help_runs", sa.column("case_id", sa.String))


def upgrade() -> None:
    op.add_column("cases", sa.Column("source", sa.String(16), nullable=False, server_default="console"))
    op.add_column("cases", sa.Column("external_reference", sa.String(200), nullable=True))
    op.add_column("cases", sa.Column("idempotency_key", sa.String(255), nullable=True))
    op.add_column("cases", sa.Column("idempotency_fingerprint", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("closed_at", sa.DateTime(), nullable=True))
    op.create_index("ix_cases_external_reference", "cases", ["external_reference"])
    op.create_index("ix_cases_idempotency_key", "cases", ["idempotency_key"], unique=True)
    op.execute(CASES.update().where(CASES.c.id.in_(sa.select(RUNS.c.case_id))).values(source="self_help"))
    # A case closed before this revision: its last change is the best guess of when it was closed.
    op.execute(CASES.update().where(CASES.c.status == "closed").values(closed_at=CASES.c.updated_at))
    with op.batch_alter_table("self_help_links") as batch:
        batch.add_column(sa.Column("case_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_self_help_links_case_id_cases", "cases", ["case_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("self_help_links") as batch:
        batch.drop_constraint("fk_self_help_links_case_id_cases", type_="foreignkey")
        batch.drop_column("case_id")
    op.drop_index("ix_cases_idempotency_key", table_name="cases")
    op.drop_index("ix_cases_external_reference", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("idempotency_fingerprint")
        batch.drop_column("idempotency_key")
        batch.drop_column("external_reference")
        batch.drop_column("source")
