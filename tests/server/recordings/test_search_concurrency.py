"""Two searches that index the same session at once (two threads here; two server processes on one
PostgreSQL database alike): the loser is skipped, the search does not fail, nothing is doubled."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.recordings import search
from server.records.database import Database
from server.records.models import search_entries, search_indexed
from tests.server.seeded_recordings import board_session_events, seed_session

# Long enough for a loaded machine; a barrier that is never met fails the test instead of hanging it.
BARRIER_TIMEOUT_S = 30.0


def stored(db: Database, session_id: str) -> tuple[int, list[tuple[Any, ...]]]:
    """The session's ``search_indexed`` rows (how many) and its entries (without their numbers)."""
    columns = [c for c in search_entries.c if c.name != "id"]
    with db.session() as s:
        marks = s.execute(select(search_indexed).where(search_indexed.c.session_id == session_id)).all()
        rows = s.execute(select(*columns).where(search_entries.c.session_id == session_id)).all()
    return len(marks), sorted(tuple(row) for row in rows)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_session_indexed_by_two_searches_at_once_is_indexed_once(
    app: Starlette,
    expert_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db: Database = app.state.services.db
    recordings_dir: Path = app.state.services.settings.recordings_dir
    session_id = seed_session(app, expert_client, events=board_session_events())["session_id"]

    # Both transactions write their entries, then wait for each other: neither has written its
    # search_indexed row yet, so both go on to write it.
    both_in_flight = threading.Barrier(2, timeout=BARRIER_TIMEOUT_S)
    replace = search._replace

    def replace_then_wait(s: Session, *args: Any) -> None:
        replace(s, *args)
        both_in_flight.wait()

    monkeypatch.setattr(search, "_replace", replace_then_wait)
    indexed: list[int] = []
    failures: list[BaseException] = []

    def one_search() -> None:
        try:
            indexed.append(search.refresh_index(db, recordings_dir))
        except Exception as exc:
            failures.append(exc)
            both_in_flight.abort()  # the other thread need not wait out the timeout

    caplog.set_level(logging.INFO, logger=search.__name__)
    threads = [threading.Thread(target=one_search) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()

    assert failures == []
    assert sorted(indexed) == [0, 1]  # one indexed the session, the other skipped it
    assert any(session_id in record.getMessage() for record in caplog.records)
    marks, raced = stored(db, session_id)
    assert marks == 1

    # What a single indexing run stores.
    with db.session() as s:
        s.execute(delete(search_entries).where(search_entries.c.session_id == session_id))
        s.execute(delete(search_indexed).where(search_indexed.c.session_id == session_id))
    assert search.refresh_index(db, recordings_dir) == 1
    alone = stored(db, session_id)
    assert alone[0] == 1 and alone[1]
    assert raced == alone[1]
