"""Alembic's environment: run the revisions on the connection ``schema.py`` hands in.

RepairSight runs this on every open (``schema.upgrade_schema``), inside the transaction that holds
its migration lock. A developer writing a revision runs it through the ``alembic`` command
instead (``docs/database.md``); then the database is ``-x url=...`` or ``$REPAIRSIGHT_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from server.records.models import Base
from server.records.search_text import include_name


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters little in place: batch operations rebuild a table instead (a no-op elsewhere).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The word indexes of revision 0007 are made by hand, per database, not from the models.
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        run_on(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("REPAIRSIGHT_DATABASE_URL")
    if not url:
        raise SystemExit("which database? give -x url=sqlite:///PATH (or set REPAIRSIGHT_DATABASE_URL)")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()


run()
