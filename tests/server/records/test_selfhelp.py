"""Self-help runs in the database: picking a customer up is atomic, whoever races for it; the queue's
order and the rough wait it tells."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from server.cli.common import open_database
from server.config import Settings
from server.errors import Conflict
from server.records import accounts, selfhelp
from server.records.database import Database
from server.records.models import SelfHelpRun

pytestmark = pytest.mark.both_databases

EXPERTS = 8


@pytest.fixture
def db(tmp_path: Path, database_url: str | None) -> Database:
    opened = open_database(Settings(data_dir=tmp_path, database=database_url))
    yield opened  # type: ignore[misc]
    opened.close()


def waiting_run(db: Database) -> selfhelp.RunStart:
    link, _token = selfhelp.create_link(db, "board-connector-reseat", "", None)
    started = selfhelp.start_run(db, link, "Reseat", "Board", 3600)
    selfhelp.escalate(db, started.run.session_id, "asked", "find-header")
    return started


def test_of_many_experts_picking_up_at_once_exactly_one_gets_the_customer(db: Database) -> None:
    started = waiting_run(db)
    experts = [
        accounts.create_user(db, f"expert{n}", "expert", f"expert {n} password ok") for n in range(EXPERTS)
    ]
    gate = threading.Barrier(EXPERTS)
    won: list[str] = []
    refused: list[str] = []

    def race(user_id: str) -> None:
        gate.wait()
        try:
            selfhelp.pick_up(db, started.run.id, user_id)
            won.append(user_id)
        except Conflict as exc:
            refused.append(exc.message)

    threads = [threading.Thread(target=race, args=(user.id,)) for user in experts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1, f"{len(won)} experts got the customer"
    winner = next(user.username for user in experts if user.id == won[0])
    assert refused == [f"{winner} has already picked up this customer"] * (EXPERTS - 1)
    with db.session() as s:
        row = s.get(SelfHelpRun, started.run.id)
        assert row is not None and row.state == "picked_up" and row.picked_up_by == won[0]


def test_the_rough_wait_is_the_place_times_the_typical_pick_up(db: Database) -> None:
    expert = accounts.create_user(db, "erin", "expert", "erin's long password")
    assert selfhelp.typical_pickup_s(db) == selfhelp.DEFAULT_PICKUP_S
    for wait_s in (30, 60, 600):  # picked up after 30 s, 1 min and 10 min: the median is 1 min
        started = waiting_run(db)
        selfhelp.pick_up(db, started.run.id, expert.id)
        with db.session() as s:
            row = s.get(SelfHelpRun, started.run.id)
            assert row is not None and row.picked_up_at is not None
            row.escalated_at = row.picked_up_at - timedelta(seconds=wait_s)
    assert selfhelp.typical_pickup_s(db) == 60
    first, second = waiting_run(db), waiting_run(db)
    assert [e.run.id for e in selfhelp.waiting_queue(db)] == [first.run.id, second.run.id]
    place = selfhelp.queue_place(db, second.run.session_id)
    assert (place.position, place.estimated_wait_s) == (2, 120)


def test_escalating_again_keeps_the_place_and_the_first_reason(db: Database) -> None:
    started = waiting_run(db)
    later = waiting_run(db)
    again = selfhelp.escalate(db, started.run.session_id, "not_fixed", "press")
    assert (again.escalation_reason, again.step_reached) == ("asked", "find-header")
    assert selfhelp.queue_place(db, started.run.session_id).position == 1
    assert selfhelp.queue_place(db, later.run.session_id).position == 2
