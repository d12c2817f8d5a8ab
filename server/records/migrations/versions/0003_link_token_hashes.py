"""Customer links stored as hashes: ``sessions.join_token`` becomes ``join_token_sha256``.

A copy of the database (a backup, a stolen disk) no longer holds working customer links. The rows
are converted in place: each clear token is replaced by its SHA-256 (``records/tokens.py``), so every
link already sent keeps working, since a link is looked up by the hash of the token it carries.

The column is renamed (``ALTER TABLE ... RENAME COLUMN``: PostgreSQL, and SQLite since 3.25), which
keeps its unique constraint; on PostgreSQL the constraint is renamed after it too, so the schema is
the one the models make.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

SESSIONS = sa.table("sessions", sa.column("id", sa.String), sa.column("join_token_sha256", sa.String))


def _sha256_hex(text: str) -> str:
    # Written out, not imported: a revision must keep doing what it did when it was written.
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rename_unique_constraint(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    names = {constraint["name"] for constraint in sa.inspect(bind).get_unique_constraints("sessions")}
    if f"sessions_{old}_key" in names:
        op.execute(f'ALTER TABLE sessions RENAME CONSTRAINT "sessions_{old}_key" TO "sessions_{new}_key"')


def upgrade() -> None:
    op.alter_column("sessions", "join_token", new_column_name="join_token_sha256")
    _rename_unique_constraint("join_token", "join_token_sha256")
    bind = op.get_bind()
    rows = bind.execute(sa.select(SESSIONS.c.id, SESSIONS.c.join_token_sha256)).all()
    for session_id, token in rows:
        bind.execute(
            SESSIONS.update().where(SESSIONS.c.id == session_id).values(join_token_sha256=_sha256_hex(token))
        )


def downgrade() -> None:
    """The clear tokens cannot be had back from their hashes: a downgraded database's links stop
    working (each session gets a new, unsent one), but no row is lost."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(SESSIONS.c.id)).all()
    for (session_id,) in rows:
        unsent = secrets.token_urlsafe(24)
        bind.execute(SESSIONS.update().where(SESSIONS.c.id == session_id).values(join_token_sha256=unsent))
    _rename_unique_constraint("join_token_sha256", "join_token")
    op.alter_column("sessions", "join_token_sha256", new_column_name="join_token")
