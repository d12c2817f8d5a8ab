"""Bring a database to this version's schema on open: Alembic revisions, the same on SQLite and PostgreSQL.

``upgrade_schema`` meets three kinds of database:

- **versioned** (its ``alembic_version`` names a revision): upgraded to the newest, if it is not there.
- **empty** (none of RepairSight's tables): upgraded from nothing; the baseline revision makes them.
- **made before migrations** (RepairSight 0.1 and older: its tables but no revision recorded):
  first brought up to the baseline schema (``migrations/baseline.py``), since an older version may
  lack a table or a column that 0.1 added (those versions made missing tables and added missing
  columns on start-up, so every column added to existing rows is nullable or has a plain default);
  then stamped at the baseline and upgraded like any other. No row is rewritten or lost.

Two processes opening one database at once (a CLI command while the server starts, several servers
on one PostgreSQL) must not both migrate: the whole check-and-migrate runs in one transaction that
first takes a lock, a transaction-scoped advisory lock on PostgreSQL and the write lock
(``BEGIN IMMEDIATE``) on SQLite, so the second waits, then finds the schema up to date. Both
databases run DDL inside a transaction, so a migration that fails leaves the schema as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Column, MetaData, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement

from .migrations.baseline import BASELINE_REVISION, baseline_metadata

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# The key of PostgreSQL's advisory lock for migrating: any fixed 64-bit number ("RSmigr" in ASCII).
POSTGRES_LOCK_KEY = 0x52536D696772
# How long an opener waits on SQLite for another process's migration (or write) to finish.
SQLITE_LOCK_WAIT_S = 30.0

SchemaState = Literal["versioned", "empty", "unversioned"]


class DatabaseError(RuntimeError):
    """The database cannot be used by this version: unreachable, or its schema cannot be brought up
    to date. The message says what was wrong and what to do."""


class MigrationError(DatabaseError):
    """A column that cannot be added to the rows already stored (NOT NULL without a plain default)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the revisions shipped in the package (no ``alembic.ini`` read)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no revision in {MIGRATIONS_DIR}"
    return head


def schema_state(connection: Connection) -> SchemaState:
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables and current_revision(connection) is not None:
        return "versioned"
    if tables & set(baseline_metadata().tables):
        return "unversioned"
    return "empty"


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _default_sql(column: Column[object], dialect: Dialect) -> str | None:
    """``DEFAULT <literal>`` for a plain scalar default, None when there is none."""
    default = column.default
    if default is None or not default.is_scalar:
        return None
    value = default.arg  # type: ignore[attr-defined]
    literal: ColumnElement[object] = text(":v").bindparams(v=value)  # type: ignore[assignment]
    compiled = literal.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"DEFAULT {compiled}"


def add_column_sql(table: str, column: Column[object], dialect: Dialect) -> str:
    """The ``ALTER TABLE`` statement that adds ``column`` to a table that has rows already."""
    quote = dialect.identifier_preparer.quote
    column_type = column.type.compile(dialect=dialect)
    default = _default_sql(column, dialect)
    if not column.nullable and default is None:
        raise MigrationError(
            f"{table}.{column.name} is NOT NULL with no plain default, so it cannot be added to the rows "
            "already stored; make the new column nullable or give it a scalar default"
        )
    parts = [f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {column_type}"]
    if default is not None:
        parts.append(default)
    if not column.nullable:
        parts.append("NOT NULL")
    return " ".join(parts)


def bring_to_baseline(connection: Connection, metadata: MetaData | None = None) -> list[str]:
    """Make a database from before migrations match ``metadata`` (the baseline): the tables, columns
    and indexes it lacks are added; nothing present is changed. Returns what was added."""
    metadata = metadata if metadata is not None else baseline_metadata()
    inspector = inspect(connection)
    present_tables = set(inspector.get_table_names())
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            table.create(connection)
            added.append(f"the table {table.name}")
            continue
        present = {info["name"] for info in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                connection.execute(text(add_column_sql(table.name, column, connection.dialect)))
                added.append(f"the column {table.name}.{column.name}")
        indexes = {info["name"] for info in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(connection)
                added.append(f"the index {index.name}")
    return added


def _is_memory(engine: Engine) -> bool:
    database = engine.url.database
    return not database or database == ":memory:" or engine.url.query.get("mode") == "memory"


@contextmanager
def _locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other opener's migration runs beside (see the module's docstring)."""
    if engine.dialect.name == "sqlite" and not _is_memory(engine):
        # Its own engine: the driver's default transactions neither begin before DDL nor take the
        # write lock at once; and foreign keys stay off, as batch migrations rebuild tables.
        locking = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": SQLITE_LOCK_WAIT_S})

        @event.listens_for(locking, "connect")
        def _manual_transactions(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None

        @event.listens_for(locking, "begin")
        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        try:
            with locking.begin() as connection:
                yield connection
        finally:
            locking.dispose()
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(POSTGRES_LOCK_KEY)))
        yield connection


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        raise DatabaseError(
            f"the database's schema is at revision {revision!r}, which this RepairSight does not know: a "
            "newer version made it. Run that version (or restore a backup made before it)."
        ) from None


def upgrade_schema(engine: Engine) -> list[str]:
    """Bring the database to the newest revision; returns what was done, one line per step (empty
    when it was up to date already)."""
    done: list[str] = []
    with _locked_transaction(engine) as connection:
        state = schema_state(connection)
        if state == "unversioned":
            done += [f"added {what}" for what in bring_to_baseline(connection)]
            command.stamp(alembic_config(connection), BASELINE_REVISION)
            done.append(f"stamped a database from before migrations at the baseline {BASELINE_REVISION}")
        before = current_revision(connection)
        _check_known(before)
        if before != head_revision():
            command.upgrade(alembic_config(connection), "head")
            done.append(f"upgraded the schema from {before or 'nothing'} to {head_revision()}")
    for line in done:
        logger.info("database: %s", line)
    return done
