"""Revision 0007: the search entries already stored get their folded words and each database's word
index, so an upgraded database finds them at once (even with their event logs gone) whatever the
case and accents; nothing is lost, and down again works."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from server.cli.common import open_database
from server.config import Settings
from server.recordings.search import LibraryQuery, search_library
from server.records.schema import alembic_config
from tests.server.databases import database_url_for

NOW = datetime(2026, 11, 20, 9, 0)
# What 0006's search_entries held: (session_id, t_ms, kind, key, text), in the order indexed.
ENTRIES_0006 = [
    ("s-fridge", 0, "procedure", "board-connector-reseat", "board-connector-reseat"),
    ("s-fridge", 0, "step", "board-connector-reseat", "locate"),
    ("s-fridge", 900, "chat", "customer", "Der Stecker ist LOCKER, sagt Frau Müller"),
    ("s-fridge", 900, "chat", "expert", "Bitte den Stecker prüfen"),
    ("s-fridge", 1500, "chat", "customer", "Ça marche, merci"),
    ("s-phone", 300, "chat", "customer", "Η Σοφία λέει γεια"),
]
SIGNATURES_0006 = [("s-fridge", "1234:5678"), ("s-phone", "99:100")]


def at_0006_with_entries(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0006")
    with engine.begin() as connection:
        for case_id, title in (("c-fridge", "Kühlschrank Müller"), ("c-phone", "Telefon")):
            connection.execute(
                text(
                    "INSERT INTO cases (id, title, customer_name, customer_contact, device_model, notes, "
                    "status, created_at, updated_at) VALUES (:id, :title, '', '', '', '', 'open', :now, :now)"
                ),
                {"id": case_id, "title": title, "now": NOW},
            )
        for session_id, case_id, hash_char in (("s-fridge", "c-fridge", "a"), ("s-phone", "c-phone", "b")):
            connection.execute(
                text(
                    "INSERT INTO sessions (id, case_id, join_token_sha256, token_expires_at, state, "
                    "created_at, started_at, recording_status) "
                    "VALUES (:id, :case_id, :hash, :now, 'ended', :now, :now, 'complete')"
                ),
                {"id": session_id, "case_id": case_id, "hash": hash_char * 64, "now": NOW},
            )
        for session_id, t_ms, kind, key, value in ENTRIES_0006:
            connection.execute(
                text(
                    "INSERT INTO search_entries (session_id, t_ms, kind, key, text) "
                    "VALUES (:session_id, :t_ms, :kind, :key, :text)"
                ),
                {"session_id": session_id, "t_ms": t_ms, "kind": kind, "key": key, "text": value},
            )
        for session_id, signature in SIGNATURES_0006:
            connection.execute(
                text("INSERT INTO search_indexed (session_id, signature) VALUES (:id, :signature)"),
                {"id": session_id, "signature": signature},
            )
    engine.dispose()


def stored_entries(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    """The rows in the order they were indexed (by ``id``), or sorted where there is no ``id`` (0006)."""
    with engine.connect() as connection:
        numbered = "id" in {c["name"] for c in inspect(connection).get_columns("search_entries")}
        rows = connection.execute(
            text(
                "SELECT session_id, t_ms, kind, key, text FROM search_entries"
                + (" ORDER BY id" if numbered else "")
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows] if numbered else sorted(tuple(row) for row in rows)


def word_index_exists(url: str) -> bool:
    engine = create_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'search_words'"))
        else:
            found = connection.scalar(
                text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_search_entries_words'")
            )
    engine.dispose()
    return bool(found)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0007_indexes_the_stored_entries_and_downgrades(tmp_path: Path, kind: str) -> None:
    with database_url_for(kind) as url:
        settings = Settings(data_dir=tmp_path, database=url)
        at_0006_with_entries(settings.database_url)

        db = open_database(settings)
        assert word_index_exists(settings.database_url)
        with db.engine.connect() as connection:
            words = connection.execute(text("SELECT text, words FROM search_entries ORDER BY id")).all()
            signatures = connection.execute(
                text("SELECT session_id, signature, case_signature FROM search_indexed ORDER BY session_id")
            ).all()
        assert stored_entries(settings.database_url) == ENTRIES_0006  # every row, in its order
        assert (
            dict(words)["Der Stecker ist LOCKER, sagt Frau Müller"]
            == "der stecker ist locker sagt frau muller"
        )
        assert dict(words)["locate"] == ""  # steps are not searched by words
        assert [tuple(row) for row in signatures] == [(s, sig, None) for s, sig in SIGNATURES_0006]

        # No event log is on disk: what is found comes from the rows that were stored.
        recordings = tmp_path / "recordings"
        [fridge] = search_library(db, recordings, LibraryQuery(q="MULLER"))
        assert fridge["session_id"] == "s-fridge" and fridge["matched_in"] == ["title", "chat"]
        assert [hit["text"] for hit in fridge["chat_hits"]] == ["Der Stecker ist LOCKER, sagt Frau Müller"]
        [plug] = search_library(db, recordings, LibraryQuery(q="stecker"))
        assert [hit["from_role"] for hit in plug["chat_hits"]] == ["customer", "expert"]
        assert [r["session_id"] for r in search_library(db, recordings, LibraryQuery(q="ça MARCHE"))] == [
            "s-fridge"
        ]
        assert [r["session_id"] for r in search_library(db, recordings, LibraryQuery(q="ΣΟΦΙΑ"))] == [
            "s-phone"
        ]
        db.close()

        engine = create_engine(settings.database_url)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0006")
        engine.dispose()
        assert not word_index_exists(settings.database_url)
        assert stored_entries(settings.database_url) == sorted(ENTRIES_0006)  # the case rows went

        db = open_database(settings)  # up again
        [again] = search_library(db, tmp_path / "recordings", LibraryQuery(q="muller"))
        assert again["matched_in"] == ["title", "chat"]
        db.close()
