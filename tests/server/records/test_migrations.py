"""A data directory made by an older version: the missing columns are added on start-up, nothing lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect
from starlette.testclient import TestClient

from server.app import create_app
from server.cli.common import open_database
from server.config import Settings
from server.records import accounts as auth
from server.records.migrations import MigrationError, add_column_sql, add_missing_columns
from server.records.models import Base

# The cases table as the version before fixed_by_step made it.
OLD_CASES_DDL = """
CREATE TABLE cases (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    title VARCHAR(200) NOT NULL,
    customer_name VARCHAR(200) NOT NULL,
    customer_contact VARCHAR(200) NOT NULL,
    device_model VARCHAR(200) NOT NULL,
    notes TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    outcome VARCHAR(32),
    procedure_id VARCHAR(100),
    created_by VARCHAR(32),
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
)
"""


def old_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute(OLD_CASES_DDL)
        connection.execute(
            "INSERT INTO cases VALUES ('old-case-1', 'Kept from before', 'Ann', 'ann@example.org', 'Board', "
            "'first call', 'closed', 'fixed_remotely', 'board-connector-reseat', NULL, "
            "'2026-10-01 09:00:00', '2026-10-01 10:00:00')"
        )


def test_an_old_database_gets_the_new_column_and_keeps_its_rows(tmp_path: Path) -> None:
    old_database(tmp_path / "repairsight.sqlite3")
    db = open_database(Settings(data_dir=tmp_path))
    columns = {c["name"] for c in inspect(db.engine).get_columns("cases")}
    assert "fixed_by_step" in columns
    assert add_missing_columns(db.engine, Base.metadata) == []  # once only
    db.close()
    with sqlite3.connect(tmp_path / "repairsight.sqlite3") as connection:
        row = connection.execute(
            "SELECT title, customer_name, notes, outcome, procedure_id, fixed_by_step FROM cases"
        ).fetchall()
    assert row == [
        ("Kept from before", "Ann", "first call", "fixed_remotely", "board-connector-reseat", None)
    ]


def test_the_server_starts_on_an_old_data_dir_and_the_api_uses_the_new_field(tmp_path: Path) -> None:
    old_database(tmp_path / "repairsight.sqlite3")
    app = create_app(Settings(data_dir=tmp_path, secret_key="test"))
    auth.create_user(app.state.services.db, "erin", "expert", "erin-correct-horse")
    with TestClient(app) as client:
        assert (
            client.post("/api/login", json={"username": "erin", "password": "erin-correct-horse"}).status_code
            == 200
        )
        case = client.get("/api/cases/old-case-1").json()
        assert (case["title"], case["notes"], case["fixed_by_step"]) == (
            "Kept from before",
            "first call",
            None,
        )
        patched = client.patch("/api/cases/old-case-1", json={"fixed_by_step": "press"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["fixed_by_step"] == "press"
    app.state.services.db.close()


def test_a_not_null_column_without_a_default_is_refused_with_a_reason() -> None:
    engine = create_engine("sqlite://")
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("x", String(5), nullable=False)
    )
    with pytest.raises(MigrationError, match="t.x is NOT NULL with no plain default"):
        add_column_sql("t", table.c.x, engine)
    with_default = Table("u", MetaData(), Column("y", String(5), nullable=False, default="a"))
    assert (
        add_column_sql("u", with_default.c.y, engine)
        == "ALTER TABLE u ADD COLUMN y VARCHAR(5) DEFAULT 'a' NOT NULL"
    )
