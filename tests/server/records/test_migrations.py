"""The schema's migrations: a database made by an older version is brought up on open, nothing lost.

``repairsight_0_1.sql`` is a RepairSight 0.1 database (the last without migrations: no
``alembic_version``) with rows in every table, as that version's code made it. Older versions still
lacked some columns; their databases come up too. The same migrations run on PostgreSQL, each test
on a database of its own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, column, create_engine, inspect, select, text
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from server.app import create_app
from server.cli.common import open_database
from server.config import Settings
from server.recordings.search import LibraryQuery, search_library
from server.records import accounts as auth
from server.records.database import Database
from server.records.links import check_link, session_of_link
from server.records.migrations.baseline import BASELINE_REVISION, baseline_metadata
from server.records.models import Base, Case
from server.records.schema import (
    DatabaseError,
    MigrationError,
    add_column_sql,
    alembic_config,
    head_revision,
    upgrade_schema,
)
from server.records.search_text import include_name
from server.records.sessions import insert_session
from server.records.tokens import sha256_hex
from tests.server.databases import database_url_for, postgres_database

DUMP_0_1 = Path(__file__).with_name("repairsight_0_1.sql")
ADA_PASSWORD = "ada-correct-horse-1"
API_TOKEN_0_1 = "v0-1-fixture-api-token-kept-0001"
CHAT_0_1 = "The J5 plug looks tilted"
# The 0.1 fixture's customer link tokens (kept in clear then) and the sessions they open.
LINKS_0_1 = {
    "pQd2JK0dfLoMJaWoPbUObHXcj0G6AFDk": "UiXxTt1THHN-ygJ8TFzf4Q",
    "SeFCbrsNNSa-UXc8eTlvDHxB7Yut9MAh": "xDa4R5hchrOpOhHEZtTUyQ",
}

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


def database_0_1(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.executescript(DUMP_0_1.read_text())


def rows_by_table(engine: Engine, links_hashed: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every 0.1 table, typed (booleans, times) so SQLite and PostgreSQL compare.
    ``links_hashed``: the database is past revision 0003, where ``sessions.join_token`` became
    ``join_token_sha256``."""
    metadata = baseline_metadata()

    def read(name: str, table: Table) -> select:  # type: ignore[valid-type]
        if not (links_hashed and name == "sessions"):
            return select(table)
        renamed = [column("join_token_sha256", String) if c.name == "join_token" else c for c in table.c]
        return select(*renamed).select_from(table)

    with engine.connect() as connection:
        return {
            name: sorted(tuple(row) for row in connection.execute(read(name, table)))
            for name, table in metadata.tables.items()
        }


def with_links_hashed(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """``rows`` as revision 0003 leaves them: each session's link token replaced by its SHA-256."""
    index = list(baseline_metadata().tables["sessions"].c.keys()).index("join_token")
    hashed = [row[:index] + (sha256_hex(row[index]),) + row[index + 1 :] for row in rows["sessions"]]
    return {**rows, "sessions": sorted(hashed)}


def schema_of(engine: Engine) -> dict[str, Any]:
    """What ``inspect`` says of each table but ``alembic_version``: columns, keys and indexes."""
    inspector = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
        }
    return schema


def version_of(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT version_num FROM alembic_version")))


def model_differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        # As ``migrations/env.py`` compares: the word indexes of revision 0007 are not in the models.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


# --- a 0.1 database, with rows in every table -------------------------------------------------------


def test_a_0_1_database_is_stamped_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "repairsight.sqlite3"
    database_0_1(path)
    plain = create_engine(f"sqlite:///{path}")
    before = rows_by_table(plain)
    assert all(before.values()), "the fixture has rows in every table"

    db = open_database(Settings(data_dir=tmp_path))
    assert version_of(db.engine) == [head_revision()]
    assert rows_by_table(db.engine, links_hashed=True) == with_links_hashed(before)
    assert model_differences(db.engine) == []
    # The rows work: the admin signs in, the API token, the links and the search index answer as before.
    assert [session_of_link(db, token).id for token in LINKS_0_1] == list(LINKS_0_1.values())  # type: ignore[union-attr]
    assert auth.verify_login(db, "ada", ADA_PASSWORD) is not None
    token_owner = auth.principal_for_token(db, API_TOKEN_0_1)
    assert token_owner is not None and token_owner.username == "ada"
    assert [(u.username, u.disabled, u.must_change_password) for u in auth.list_users(db)] == [
        ("ada", False, False),
        ("erin", True, True),
    ]
    [found] = search_library(db, tmp_path / "recordings", LibraryQuery(q="j5 PLUG"))
    assert found["chat_hits"][0]["text"] == CHAT_0_1
    assert upgrade_schema(db.engine) == []  # up to date: opening again does nothing
    db.close()
    plain.dispose()


def test_the_baseline_revision_makes_the_0_1_schema(tmp_path: Path) -> None:
    database_0_1(tmp_path / "old" / "repairsight.sqlite3")
    old = create_engine(f"sqlite:///{tmp_path / 'old' / 'repairsight.sqlite3'}")
    (tmp_path / "new").mkdir()
    fresh = create_engine(f"sqlite:///{tmp_path / 'new' / 'repairsight.sqlite3'}")
    with fresh.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE_REVISION)
    assert schema_of(fresh) == schema_of(old)
    assert version_of(fresh) == [BASELINE_REVISION]
    fresh.dispose()
    old.dispose()


def test_a_0_1_database_gets_the_sign_ins_table_and_keeps_its_rows(tmp_path: Path) -> None:
    database_0_1(tmp_path / "repairsight.sqlite3")
    db = open_database(Settings(data_dir=tmp_path))
    assert "staff_sign_ins" in inspect(db.engine).get_table_names()
    assert version_of(db.engine) == [head_revision()]
    assert db.count_users() > 0
    db.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migrations_make_what_the_models_describe(tmp_path: Path, kind: str) -> None:
    with database_url_for(kind) as url:
        db = open_database(Settings(data_dir=tmp_path, database=url))
        assert model_differences(db.engine) == []
        assert version_of(db.engine) == [head_revision()]
        db.close()


# --- older still: columns that 0.1 added -------------------------------------------------------------


def test_an_old_database_gets_the_new_column_and_keeps_its_rows(tmp_path: Path) -> None:
    old_database(tmp_path / "repairsight.sqlite3")
    db = open_database(Settings(data_dir=tmp_path))
    columns = {c["name"] for c in inspect(db.engine).get_columns("cases")}
    assert "fixed_by_step" in columns
    assert version_of(db.engine) == [head_revision()]
    assert upgrade_schema(db.engine) == []  # once only
    db.close()
    with sqlite3.connect(tmp_path / "repairsight.sqlite3") as connection:
        row = connection.execute(
            "SELECT title, customer_name, notes, outcome, procedure_id, fixed_by_step FROM cases"
        ).fetchall()
    assert row == [
        ("Kept from before", "Ann", "first call", "fixed_remotely", "board-connector-reseat", None)
    ]


def test_an_empty_version_table_is_no_revision(tmp_path: Path) -> None:
    """A version table with no row (left by a stamp that never finished) says nothing of the schema."""
    old_database(tmp_path / "repairsight.sqlite3")
    with sqlite3.connect(tmp_path / "repairsight.sqlite3") as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    db = open_database(Settings(data_dir=tmp_path))
    assert "fixed_by_step" in {c["name"] for c in inspect(db.engine).get_columns("cases")}
    assert version_of(db.engine) == [head_revision()]
    db.close()


def test_what_an_old_database_is_given_is_said(tmp_path: Path) -> None:
    old_database(tmp_path / "repairsight.sqlite3")
    engine = create_engine(f"sqlite:///{tmp_path / 'repairsight.sqlite3'}")
    done = upgrade_schema(engine)
    assert "added the column cases.fixed_by_step" in done
    assert "added the table users" in done and "added the table search_entries" in done
    assert f"stamped a database from before migrations at the baseline {BASELINE_REVISION}" in done
    engine.dispose()


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
        add_column_sql("t", table.c.x, engine.dialect)
    with_default = Table("u", MetaData(), Column("y", String(5), nullable=False, default="a"))
    assert (
        add_column_sql("u", with_default.c.y, engine.dialect)
        == "ALTER TABLE u ADD COLUMN y VARCHAR(5) DEFAULT 'a' NOT NULL"
    )


# --- PostgreSQL -------------------------------------------------------------------------------------


def copy_0_1_rows(source: Engine, target: Engine, leave_out: tuple[str, str] | None = None) -> None:
    """Make the 0.1 tables on ``target`` as ``create_all`` did (no ``alembic_version``) and copy every
    row of ``source`` into them; ``leave_out``: a (table, column) an older version did not have yet."""
    metadata = baseline_metadata()
    if leave_out is not None:
        table = metadata.tables[leave_out[0]]
        table._columns.remove(table.c[leave_out[1]])  # the table as that older version made it
    rows = rows_by_table(source)
    metadata.create_all(target)
    with target.begin() as connection:
        for table in metadata.sorted_tables:
            full = baseline_metadata().tables[table.name]
            records = [dict(zip(full.c.keys(), row, strict=True)) for row in rows[table.name]]
            kept = [{k: v for k, v in record.items() if k in table.c} for record in records]
            connection.execute(table.insert(), kept)


def test_a_0_1_database_on_postgresql_is_upgraded_in_place(tmp_path: Path, postgres_url: str) -> None:
    database_0_1(tmp_path / "old.sqlite3")
    source = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    target = create_engine(postgres_url)
    copy_0_1_rows(source, target)
    before = rows_by_table(target)
    assert before == rows_by_table(source) and all(before.values())

    db = open_database(Settings(data_dir=tmp_path, database=postgres_url))
    assert version_of(db.engine) == [head_revision()]
    assert rows_by_table(db.engine, links_hashed=True) == with_links_hashed(before)
    assert model_differences(db.engine) == []
    assert auth.verify_login(db, "ada", ADA_PASSWORD) is not None
    [found] = search_library(db, tmp_path / "recordings", LibraryQuery(q="j5 PLUG"))
    assert found["chat_hits"][0]["text"] == CHAT_0_1
    db.close()
    target.dispose()
    source.dispose()


def test_an_older_postgresql_database_gets_the_missing_column(tmp_path: Path, postgres_url: str) -> None:
    database_0_1(tmp_path / "old.sqlite3")
    source = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    target = create_engine(postgres_url)
    copy_0_1_rows(source, target, leave_out=("users", "disabled_at"))
    db = open_database(Settings(data_dir=tmp_path, database=postgres_url))
    assert model_differences(db.engine) == []
    assert [(u.username, u.disabled) for u in auth.list_users(db)] == [("ada", False), ("erin", False)]
    db.close()
    target.dispose()
    source.dispose()


# --- two openers at once, a database from a newer version --------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path, kind: str) -> None:
    """A CLI command while the server starts, or two servers: the second waits for the first's lock."""
    with database_url_for(kind) as url:
        settings = Settings(data_dir=tmp_path, database=url)
        opened: list[Database] = []
        failures: list[BaseException] = []
        start = threading.Barrier(4)

        def open_one() -> None:
            start.wait()
            try:
                opened.append(Database(settings.database_url))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == [] and len(opened) == 4
        assert version_of(opened[0].engine) == [head_revision()]
        auth.create_user(opened[1], "erin", "expert", "erin-correct-horse")
        assert auth.find_user(opened[2], "erin") is not None
        for db in opened:
            db.close()


def test_a_database_from_a_newer_version_is_refused_with_a_reason(tmp_path: Path) -> None:
    db = open_database(Settings(data_dir=tmp_path))
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.close()
    with pytest.raises(DatabaseError, match="revision '9999', which this RepairSight does not know"):
        Database(Settings(data_dir=tmp_path).database_url)


def test_a_database_that_cannot_be_reached_is_said_plainly(tmp_path: Path, postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database_" + datetime.now().strftime("%H%M%S")
    with pytest.raises(DatabaseError, match="cannot open the database .*no_such_database_.*does not exist"):
        Database(missing)


# --- 0003: link tokens kept as hashes ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_links_made_before_0003_keep_working_and_only_their_hash_is_kept(tmp_path: Path, kind: str) -> None:
    """A database at 0002 with sessions whose tokens are in clear: upgraded in place, every link
    already sent still opens its session, and no clear token is left in the table."""
    tokens = {"live-link-token-0002-aaaaaaaaaaaa": "live", "new-link-token-0002-bbbbbbbbbbbbb": "created"}
    with database_url_for(kind) as url:
        settings = Settings(data_dir=tmp_path, database=url)
        engine = create_engine(settings.database_url)
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0002")
        tables = baseline_metadata().tables
        now = datetime(2026, 11, 29, 9, 0)
        with engine.begin() as connection:
            connection.execute(
                tables["cases"].insert(),
                {"id": "case-0002", "title": "Kept", "created_at": now, "updated_at": now},
            )
            for index, (token, state) in enumerate(tokens.items()):
                connection.execute(
                    tables["sessions"].insert(),
                    {
                        "id": f"session-{index}",
                        "case_id": "case-0002",
                        "join_token": token,
                        "token_expires_at": datetime(2999, 1, 1),
                        "state": state,
                        "created_at": now,
                        "recording_status": "none",
                    },
                )
        engine.dispose()

        db = open_database(settings)
        assert version_of(db.engine) == [head_revision()]
        assert model_differences(db.engine) == []
        for index, token in enumerate(tokens):
            assert check_link(db, token).session_id == f"session-{index}"
            assert check_link(db, token).problem is None
            principal = auth.principal_for_token(db, token)
            assert principal is not None and principal.session_id == f"session-{index}"
        assert check_link(db, "not-a-link-token-at-all-cccccccc").problem == "unknown"
        with db.engine.connect() as connection:
            stored = sorted(connection.scalars(text("SELECT join_token_sha256 FROM sessions")))
        assert stored == sorted(sha256_hex(token) for token in tokens)
        db.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0003_downgrades_without_losing_a_session(tmp_path: Path, kind: str) -> None:
    """Down to 0002 the rows stay; the links cannot come back from their hashes (each session gets a
    new, unsent token), and up again they are hashed once more."""
    with database_url_for(kind) as url:
        settings = Settings(data_dir=tmp_path, database=url)
        db = open_database(settings)
        with db.session() as s:
            made = Case(title="Kept")
            s.add(made)
            s.flush()
            case_id = made.id
        row, token = insert_session(db, case_id, None, 3600)
        db.close()
        engine = create_engine(settings.database_url)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
        with engine.connect() as connection:
            [(session_id, clear)] = connection.execute(text("SELECT id, join_token FROM sessions")).all()
        engine.dispose()
        assert session_id == row.id and clear not in (token, sha256_hex(token)) and len(clear) >= 32
        db = open_database(settings)
        assert check_link(db, clear).session_id == row.id
        db.close()
