"""The SQLite database file is for the server's user alone (issue 15, finding 10: it was 0644)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.config import Settings
from server.records.database import Database


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems give a service (files made 0644 unless asked otherwise)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    db = Database(settings.database_url)
    assert db.count_users() == 0
    assert mode_of(settings.database_path) == 0o600
    companions = [p for p in tmp_path.iterdir() if p.name.startswith("repairsight.sqlite3-")]
    assert all(mode_of(p) == 0o600 for p in companions), [(p.name, oct(mode_of(p))) for p in companions]
    db.close()


def test_an_existing_database_file_is_made_private_on_open(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with sqlite3.connect(settings.database_path) as connection:
        connection.execute("CREATE TABLE unrelated (x INTEGER)")
    settings.database_path.chmod(0o644)
    db = Database(settings.database_url)
    assert mode_of(settings.database_path) == 0o600
    db.close()
