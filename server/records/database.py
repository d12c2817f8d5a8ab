"""The database: an engine, units of work, and the schema brought up to date on open.

SQLite by default (one file in the data directory, ``Settings.database_url``); the same models
work on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .migrations import add_missing_columns
from .models import Base, User


class Database:
    """The engine and a session factory; ``create_all`` makes the schema on first use, and
    ``add_missing_columns`` brings a database made by an older version up to date."""

    def __init__(self, url: str) -> None:
        is_sqlite = url.startswith("sqlite")
        self.engine: Engine = create_engine(
            url, connect_args={"check_same_thread": False} if is_sqlite else {}
        )
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine, Base.metadata)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self._factory() as db:
            with db.begin():
                yield db

    def close(self) -> None:
        self.engine.dispose()

    def count_users(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the API read while a session writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
