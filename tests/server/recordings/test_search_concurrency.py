"""Two searches that (re)index the same session at once (two threads here; two server processes on
one PostgreSQL database alike): the second waits for the first's lock on the session, then skips
what the first stored; the search does not fail and nothing is doubled."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, delete, select, text, update
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.recordings import search
from server.recordings.files import recording_files
from server.records.database import Database
from server.records.models import search_entries, search_indexed
from tests.server.seeded_recordings import board_session_events, event, seed_session, write_events

# Long enough for a loaded machine; a wait (the barrier, the first writer's) that is never met fails
# the test instead of hanging it.
BARRIER_TIMEOUT_S = 30.0


def stored(db: Database, session_id: str) -> tuple[list[Row[Any]], list[tuple[Any, ...]]]:
    """The session's ``search_indexed`` rows and its entries (without their numbers)."""
    columns = [c for c in search_entries.c if c.name != "id"]
    with db.session() as s:
        marks = s.execute(select(search_indexed).where(search_indexed.c.session_id == session_id)).all()
        rows = s.execute(select(*columns).where(search_entries.c.session_id == session_id)).all()
    return list(marks), sorted(tuple(row) for row in rows)


def waits_on_a_lock(db: Database) -> bool:
    """Whether a connection to the test's PostgreSQL database is waiting for a lock (a row's)."""
    with db.engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return bool(waiting.scalar())


class Race:
    """Two ``refresh_index`` in two threads, made to overlap where it matters.

    Both are let through to the session's lock only once both have read the index (so both see the
    session as it was). The first to write its entries then holds its transaction open until the
    other waits for a lock (the session's row, or without it, the rows the first deleted) or has
    ended. Neither wait can hang: each has a deadline, and a thread that fails releases the other."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.both_read = threading.Barrier(2, timeout=BARRIER_TIMEOUT_S)
        self.written = False
        self.written_guard = threading.Lock()
        self.one_ended = threading.Event()

    def wait_then_lock(self, lock_session: Callable[[Session, str], None]) -> Callable[[Session, str], None]:
        def wrapped(s: Session, session_id: str) -> None:
            # Neither holds a lock nor a transaction here (SQLAlchemy begins on the first statement).
            self.both_read.wait()
            lock_session(s, session_id)

        return wrapped

    def first_writer_waits(self, replace: Callable[..., None]) -> Callable[..., None]:
        def wrapped(s: Session, *args: Any) -> None:
            replace(s, *args)
            with self.written_guard:
                first, self.written = not self.written, True
            deadline = time.monotonic() + BARRIER_TIMEOUT_S
            while first and not self.one_ended.is_set() and not waits_on_a_lock(self.db):
                if time.monotonic() > deadline:
                    raise TimeoutError("the other search neither waited for a lock nor ended")
                time.sleep(0.01)

        return wrapped

    def end(self) -> None:
        self.both_read.abort()  # a no-op once both have passed; else the other need not wait it out
        self.one_ended.set()


def refresh_twice_at_once(db: Database, recordings_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many sessions each of two racing ``refresh_index`` (``Race``) (re)indexed."""
    race = Race(db)
    indexed: list[int] = []
    failures: list[BaseException] = []

    def one_search() -> None:
        try:
            indexed.append(search.refresh_index(db, recordings_dir))
        except BaseException as exc:
            failures.append(exc)
        finally:
            race.end()

    with monkeypatch.context() as patch:
        patch.setattr(search, "_lock_session", race.wait_then_lock(search._lock_session))
        patch.setattr(search, "_replace", race.first_writer_waits(search._replace))
        threads = [threading.Thread(target=one_search, daemon=True) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=3 * BARRIER_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return indexed


def skipped(caplog: pytest.LogCaptureFixture, session_id: str) -> bool:
    return any(
        session_id in record.getMessage() and "skipped" in record.getMessage() for record in caplog.records
    )


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

    caplog.set_level(logging.DEBUG, logger=search.__name__)
    indexed = refresh_twice_at_once(db, recordings_dir, monkeypatch)
    raced = stored(db, session_id)

    # What a single indexing run stores.
    with db.session() as s:
        s.execute(delete(search_entries).where(search_entries.c.session_id == session_id))
        s.execute(delete(search_indexed).where(search_indexed.c.session_id == session_id))
    assert search.refresh_index(db, recordings_dir) == 1
    alone = stored(db, session_id)
    assert len(alone[0]) == 1 and alone[1]
    assert raced == alone
    assert sorted(indexed) == [0, 1]  # one indexed the session, the other skipped it
    assert skipped(caplog, session_id)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_grown_log_reindexed_by_two_searches_at_once_is_reindexed_once(
    app: Starlette,
    expert_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db: Database = app.state.services.db
    recordings_dir: Path = app.state.services.settings.recordings_dir
    session_id = seed_session(app, expert_client, events=board_session_events())["session_id"]
    assert search.refresh_index(db, recordings_dir) == 1
    (before,), _ = stored(db, session_id)

    log = recording_files(recordings_dir, session_id).events
    grown = [
        *board_session_events(),
        event(4200, "chat", id="c_9", from_role="customer", text="It works now"),
    ]
    write_events(log, grown)
    caplog.set_level(logging.DEBUG, logger=search.__name__)
    indexed = refresh_twice_at_once(db, recordings_dir, monkeypatch)
    raced = stored(db, session_id)

    # What a single re-indexing run stores: from the signature the log had before it grew.
    with db.session() as s:
        s.execute(
            update(search_indexed)
            .where(search_indexed.c.session_id == session_id)
            .values(signature=before.signature)
        )
    assert search.refresh_index(db, recordings_dir) == 1
    marks, alone = stored(db, session_id)
    assert [mark.signature for mark in marks] == [search._signature(log)] != [before.signature]
    assert any("It works now" in row for row in alone)
    assert raced == (marks, alone)
    assert sorted(indexed) == [0, 1]  # one re-indexed the session, the other skipped it
    assert skipped(caplog, session_id)
