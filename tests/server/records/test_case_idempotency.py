"""One case per Idempotency-Key, whoever races: the unique index decides, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.cli.common import open_database
from server.config import Settings
from server.errors import Conflict
from server.records import selfhelp
from server.records.cases import insert_case, insert_case_once
from server.records.database import Database
from server.records.models import Case

pytestmark = pytest.mark.both_databases

CALLERS = 8


@pytest.fixture
def db(tmp_path: Path, database_url: str | None) -> Iterator[Database]:
    opened = open_database(Settings(data_dir=tmp_path, database=database_url))
    yield opened
    opened.close()


def count_cases(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def test_many_identical_requests_at_once_make_one_case(db: Database) -> None:
    gate = threading.Barrier(CALLERS)
    results: list[tuple[str, bool]] = []
    failures: list[BaseException] = []

    def call() -> None:
        gate.wait()
        try:
            case, made = insert_case_once(db, {"title": "CRM 42"}, None, "api", "key-42", "same")
            results.append((case.id, made))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert len({case_id for case_id, _made in results}) == 1
    assert sorted(made for _id, made in results) == [False] * (CALLERS - 1) + [True]
    assert count_cases(db) == 1


def test_the_same_key_with_another_request_is_refused_and_changes_nothing(db: Database) -> None:
    first, made = insert_case_once(db, {"title": "CRM 42"}, None, "api", "key-42", "one")
    assert made and first.source == "api" and first.idempotency_key == "key-42"
    with pytest.raises(Conflict, match=f"already used with another request \\(case {first.id}\\)"):
        insert_case_once(db, {"title": "CRM 43"}, None, "api", "key-42", "other")
    again, made_again = insert_case_once(db, {"title": "CRM 42"}, None, "api", "key-42", "one")
    assert (again.id, made_again, count_cases(db)) == (first.id, False, 1)


def test_cases_say_where_they_came_from(db: Database) -> None:
    assert insert_case(db, {"title": "by staff"}, None).source == "console"
    link, _token = selfhelp.create_link(db, "board-connector-reseat", "", None)
    run = selfhelp.start_run(db, link, "Reseat", "Board", 3600).run
    with db.session() as s:
        made = s.get(Case, run.case_id)
        assert made is not None and made.source == "self_help"


def test_a_link_made_with_a_case_runs_on_that_case(db: Database) -> None:
    case, _made = insert_case_once(
        db, {"title": "CRM 7", "procedure_id": "board-connector-reseat"}, None, "api", "key-7", "f"
    )
    link, _token = selfhelp.create_link(db, "board-connector-reseat", "case CRM 7", None, case.id)
    run = selfhelp.start_run(db, link, "Reseat", "Board", 3600).run
    assert run.case_id == case.id and count_cases(db) == 1
    assert [row.id for row in selfhelp.links_of_case(db, case.id)] == [link.id]
