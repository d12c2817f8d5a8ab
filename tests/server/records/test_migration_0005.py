"""Revision 0005: cases already stored get their ``source`` (self_help where a self-help run points at
the case, else console) and, when closed, a ``closed_at``; nothing is lost, and down again works."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from server.cli.common import open_database
from server.config import Settings
from server.records.schema import alembic_config
from tests.server.databases import database_url_for

NOW = datetime(2026, 11, 20, 9, 0)
CLOSED_AT = datetime(2026, 11, 21, 10, 30)


def at_0004_with_rows(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0004")
    with engine.begin() as connection:
        for case_id, status, outcome, updated in (
            ("by-staff", "closed", "no_fault_found", CLOSED_AT),
            ("by-run", "open", None, NOW),
        ):
            connection.execute(
                text(
                    "INSERT INTO cases (id, title, customer_name, customer_contact, device_model, notes, "
                    "status, outcome, created_at, updated_at) "
                    "VALUES (:id, 'Kept', '', '', '', '', :status, :outcome, :now, :updated)"
                ),
                {"id": case_id, "status": status, "outcome": outcome, "now": NOW, "updated": updated},
            )
        connection.execute(
            text(
                "INSERT INTO sessions (id, case_id, join_token_sha256, token_expires_at, state, created_at, "
                "recording_status) VALUES ('s1', 'by-run', :hash, :now, 'live', :now, 'none')"
            ),
            {"hash": "a" * 64, "now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO self_help_links (id, procedure_id, token_sha256, label, created_at) "
                "VALUES ('l1', 'board-connector-reseat', :hash, '', :now)"
            ),
            {"hash": "b" * 64, "now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO self_help_runs (id, link_id, case_id, session_id, state, started_at) "
                "VALUES ('r1', 'l1', 'by-run', 's1', 'running', :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0005_gives_stored_cases_their_source_and_downgrades(tmp_path: Path, kind: str) -> None:
    with database_url_for(kind) as url:
        settings = Settings(data_dir=tmp_path, database=url)
        at_0004_with_rows(settings.database_url)
        db = open_database(settings)
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, source, closed_at, external_reference, idempotency_key FROM cases ORDER BY id"
                )
            ).all()
        db.close()
        assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
            ("by-run", "self_help", None, None),
            ("by-staff", "console", None, None),
        ]
        closed_at = {r[0]: r[2] for r in rows}
        assert closed_at["by-run"] is None
        assert str(closed_at["by-staff"]).startswith("2026-11-21 10:30")
        engine = create_engine(settings.database_url)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0004")
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT id FROM cases ORDER BY id")).scalars().all()
            links = connection.execute(text("SELECT id FROM self_help_links")).scalars().all()
        engine.dispose()
        assert (kept, links) == (["by-run", "by-staff"], ["l1"])
