"""The databases the server tests run on: SQLite in the test's data directory, or a PostgreSQL
database of the test's own, made on the local server (127.0.0.1:5432, trust auth) and dropped after.

A test module marked ``both_databases`` runs each test that uses ``database_url`` on both;
``REPAIRSIGHT_TEST_DATABASE=postgresql`` runs every such test of the suite on PostgreSQL alone.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

DATABASES = ("sqlite", "postgresql")
DATABASE_ENV = "REPAIRSIGHT_TEST_DATABASE"
# Where tests make and drop their databases (a maintenance database of a server they may create on).
ADMIN_URL_ENV = "REPAIRSIGHT_TEST_POSTGRES_URL"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def default_database() -> str:
    kind = os.environ.get(DATABASE_ENV, "sqlite")
    assert kind in DATABASES, f"${DATABASE_ENV}={kind!r}: give one of {', '.join(DATABASES)}"
    return kind


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database with a random name; yields its URL, drops it afterwards."""
    admin_url = os.environ.get(ADMIN_URL_ENV, ADMIN_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"repairsight_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(admin_url).render_as_string()}: {exc.orig}. "
            f".ci/run starts it; by hand: service postgresql start (or set ${ADMIN_URL_ENV})"
        )
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def database_url_for(kind: str) -> Iterator[str | None]:
    """``None`` (the SQLite file in the data directory) or a PostgreSQL database's URL."""
    if kind == "sqlite":
        yield None
    else:
        with postgres_database() as url:
            yield url
