"""The database: an engine, units of work, and the schema brought up to date on open.

SQLite by default (one file in the data directory, ``Settings.database_url``), or PostgreSQL
(``postgresql+psycopg://...``) for several server processes; the same models and migrations work on
both (``schema.py``; ``docs/database.md``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .models import User
from .schema import DatabaseError, upgrade_schema

# PostgreSQL through psycopg 3, whichever way the URL names it (``postgresql://`` alone would ask
# SQLAlchemy for psycopg2, which is not installed).
POSTGRES_DRIVER = "postgresql+psycopg"
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")


def database_url(url: str) -> URL:
    """``url`` parsed, with PostgreSQL's driver made psycopg 3; a malformed or unsupported one is a
    ``DatabaseError`` that says which forms work."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"{shown(url)} is not a database URL; give sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME"
        ) from None
    if parsed.drivername in POSTGRES_SCHEMES:
        return parsed.set(drivername=POSTGRES_DRIVER)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"{shown(url)}: RepairSight runs on SQLite (sqlite:///PATH) or PostgreSQL "
            "(postgresql+psycopg://USER@HOST/NAME), not on this database"
        )
    return parsed


def shown(url: str | URL) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database URL"


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"check_same_thread": False}}
    # A server outlives restarts of PostgreSQL: test a pooled connection before handing it out.
    return {"pool_pre_ping": True}


# What SQLite's files hold (accounts, customers' names, hashes of links and tokens) is for the
# server's user alone; SQLite gives its journal and WAL files the mode of the database file.
PRIVATE_FILE_MODE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def keep_private(url: URL) -> None:
    """Make a SQLite database file (and its companions) readable by this user only, before SQLite
    makes it with the umask's mode (often 0644). An in-memory database has no file."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if companion.stat().st_mode & 0o077:
                companion.chmod(PRIVATE_FILE_MODE)


class Database:
    """The engine and a session factory; the schema is brought up to date when it opens
    (``schema.upgrade_schema``: made on first use, migrated after an upgrade of RepairSight)."""

    def __init__(self, url: str) -> None:
        parsed = database_url(url)
        try:
            self.engine: Engine = create_engine(parsed, **_engine_options(parsed))
        except NoSuchModuleError:
            raise DatabaseError(f"{shown(parsed)}: no driver for this database is installed") from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            keep_private(parsed)
        try:
            upgrade_schema(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseError(
                f"cannot open the database {shown(parsed)}: {reason}. Check that it is running and "
                "reachable, that the database exists and that the user and password are right."
            ) from None
        except BaseException:
            self.engine.dispose()
            raise
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
