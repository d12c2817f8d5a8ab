"""Bring a database made by an older RepairSight up to date: add the columns it lacks.

``create_all`` makes missing tables but never touches existing ones, so a data directory from an
older version would fail on the first query that names a new column. New columns are therefore
always nullable (or have a plain default), and on start-up every one the database lacks is added
with ``ALTER TABLE ... ADD COLUMN`` (SQLite and PostgreSQL both have it). Nothing stored is
rewritten or lost: existing rows read the new column as NULL (or its default).

Only additions are handled here. Renaming or dropping a column needs a real migration tool; none
has been needed so far.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

logger = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    """A new column that cannot be added to existing rows (NOT NULL without a plain default)."""


def _default_sql(column: Column[object], engine: Engine) -> str | None:
    """``DEFAULT <literal>`` for a plain scalar default, None when there is none."""
    default = column.default
    if default is None or not default.is_scalar:
        return None
    value = default.arg  # type: ignore[attr-defined]
    literal: ColumnElement[object] = text(":v").bindparams(v=value)  # type: ignore[assignment]
    compiled = literal.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    return f"DEFAULT {compiled}"


def add_column_sql(table: str, column: Column[object], engine: Engine) -> str:
    """The ``ALTER TABLE`` statement that adds ``column`` to existing rows."""
    quote = engine.dialect.identifier_preparer.quote
    column_type = column.type.compile(dialect=engine.dialect)
    default = _default_sql(column, engine)
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


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add every column of ``metadata`` that its (existing) table lacks; returns ``table.column`` names."""
    inspector = inspect(engine)
    existing_tables = set(inspector.get_table_names())
    added: list[str] = []
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name not in existing_tables:
                continue
            present = {info["name"] for info in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                connection.execute(text(add_column_sql(table.name, column, engine)))
                added.append(f"{table.name}.{column.name}")
    for name in added:
        logger.warning("database schema updated: added the column %s", name)
    return added
