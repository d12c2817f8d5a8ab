"""The webhook outbox in the database: each change writes its event in its own transaction (and a
rolled-back change writes none), endpoints get only what they asked for, and of several processes
claiming the same due deliveries each delivery goes to exactly one; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server.cli.common import open_database
from server.clock import utcnow
from server.config import Settings
from server.errors import Invalid
from server.integrations import webhook_outbox
from server.integrations.webhook_endpoints import create_endpoint
from server.integrations.webhook_outbox import (
    CLAIM_LEASE_S,
    JITTER,
    RETRY_DELAYS_S,
    AttemptResult,
    claim,
    due,
    record_attempt,
    retry_delay_s,
)
from server.records import selfhelp
from server.records.cases import insert_case, update_case
from server.records.database import Database
from server.records.models import WebhookDelivery
from server.records.sessions import RecordingSummary, insert_session, mark_ended, mark_live

pytestmark = pytest.mark.both_databases

WORKERS = 4
DELIVERIES = 40


@pytest.fixture
def db(tmp_path: Path, database_url: str | None) -> Iterator[Database]:
    opened = open_database(Settings(data_dir=tmp_path, database=database_url))
    yield opened
    opened.close()


def events_of(db: Database, endpoint_id: str) -> list[tuple[str, dict[str, object]]]:
    with db.session() as s:
        rows = s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        ).all()
        bodies = [json.loads(row.body) for row in rows]
    assert all(set(body) == {"type", "timestamp", "data"} for body in bodies)
    return [(body["type"], body["data"]) for body in bodies]


def test_each_change_writes_its_event_once_for_the_endpoints_that_want_it(db: Database) -> None:
    every = create_endpoint(db, "https://crm.example/hook", [], "", True, None)
    closed_only = create_endpoint(db, "https://crm.example/closed", ["case.closed"], "", True, None)
    disabled = create_endpoint(db, "https://crm.example/off", [], "", False, None)

    case = insert_case(db, {"title": "Phone won't charge", "device_model": "X1"}, None)
    session, _token = insert_session(db, case.id, None, 3600)
    mark_live(db, session.id, consent=True)
    mark_live(db, session.id)  # a second join: started already
    mark_ended(db, session.id, "done", RecordingSummary(media_exists=True, duration_s=12.5))
    mark_ended(db, session.id, "done again")  # ended already
    update_case(db, case.id, {"status": "closed", "outcome": "no_fault_found"})
    update_case(db, case.id, {"notes": "closed already"})

    got = events_of(db, every.id)
    assert [kind for kind, _data in got] == [
        "case.created",
        "session.started",
        "session.ended",
        "recording.ready",
        "case.closed",
    ]
    created, started, ended, ready, closed = (data for _kind, data in got)
    assert created["case_id"] == case.id and created["status"] == "open" and created["source"] == "console"
    assert "customer_name" not in created and "customer_contact" not in created
    assert started["session_id"] == session.id and started["state"] == "live"
    assert started["recording_status"] == "recording"
    assert ended["state"] == "ended" and ended["end_reason"] == "done"
    assert ready["recording_status"] == "complete" and ready["recording_duration_s"] == 12.5
    assert closed["outcome"] == "no_fault_found" and closed["status"] == "closed"
    assert [kind for kind, _data in events_of(db, closed_only.id)] == ["case.closed"]
    assert events_of(db, disabled.id) == []


def test_a_session_without_a_recording_is_not_ready_and_a_rolled_back_change_sends_nothing(
    db: Database,
) -> None:
    endpoint = create_endpoint(
        db, "https://crm.example/hook", ["recording.ready", "case.closed"], "", True, None
    )
    case = insert_case(db, {"title": "No recording"}, None)
    session, _token = insert_session(db, case.id, None, 3600)
    mark_live(db, session.id, consent=False)
    mark_ended(db, session.id, "done")
    with pytest.raises(Invalid):
        update_case(db, case.id, {"status": "closed"})  # no outcome: refused, rolled back
    assert events_of(db, endpoint.id) == []


def test_self_help_escalation_and_fix_are_sent(db: Database) -> None:
    endpoint = create_endpoint(
        db, "https://crm.example/hook", ["case.escalated", "case.closed"], "", True, None
    )
    link, _token = selfhelp.create_link(db, "board-connector-reseat", "", None)
    escalated = selfhelp.start_run(db, link, "Reseat", "Board", 3600)
    selfhelp.escalate(db, escalated.run.session_id, "asked", "find-header")
    selfhelp.escalate(db, escalated.run.session_id, "asked", "find-header")  # keeps its place
    fixed = selfhelp.start_run(db, link, "Reseat", "Board", 3600)
    selfhelp.mark_fixed(db, fixed.run.session_id, "reseat")

    got = events_of(db, endpoint.id)
    assert [kind for kind, _data in got] == ["case.escalated", "case.closed"]
    assert got[0][1] == {
        "case_id": escalated.run.case_id,
        "session_id": escalated.run.session_id,
        "run_id": escalated.run.id,
        "reason": "asked",
        "step_reached": "find-header",
        "escalated_at": got[0][1]["escalated_at"],
    }
    assert got[1][1]["case_id"] == fixed.run.case_id and got[1][1]["outcome"] == "fixed_by_self_help"
    assert got[1][1]["source"] == "self_help" and got[1][1]["fixed_by_step"] == "reseat"


def test_of_several_processes_claiming_at_once_each_delivery_goes_to_exactly_one(
    db: Database, tmp_path: Path, database_url: str | None
) -> None:
    create_endpoint(db, "https://crm.example/hook", [], "", True, None)
    for n in range(DELIVERIES):
        insert_case(db, {"title": f"case {n}"}, None)
    # One database handle (engine and pool) per worker, as separate processes have.
    handles = [open_database(Settings(data_dir=tmp_path, database=database_url)) for _ in range(WORKERS)]
    gate = threading.Barrier(WORKERS)
    claimed: dict[str, list[str]] = {f"worker{n}": [] for n in range(WORKERS)}
    failures: list[BaseException] = []

    def work(name: str, handle: Database) -> None:
        try:
            ids = due(handle, DELIVERIES)
            gate.wait()
            for delivery_id in ids:
                if claim(handle, delivery_id, name) is not None:
                    claimed[name].append(delivery_id)
        except BaseException as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [
        threading.Thread(target=work, args=(name, handle))
        for name, handle in zip(claimed, handles, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for handle in handles:
        handle.close()
    assert failures == []
    everything = [delivery_id for ids in claimed.values() for delivery_id in ids]
    assert len(everything) == DELIVERIES and len(set(everything)) == DELIVERIES
    assert due(db, DELIVERIES) == []  # all held now
    with db.session() as s:
        holders = {
            row.id: row.claimed_by
            for row in s.execute(select(WebhookDelivery.id, WebhookDelivery.claimed_by))
        }
    assert all(holders[delivery_id] == name for name, ids in claimed.items() for delivery_id in ids)


def test_a_claim_whose_process_died_is_taken_over_after_its_lease(db: Database) -> None:
    create_endpoint(db, "https://crm.example/hook", ["case.created"], "", True, None)
    insert_case(db, {"title": "one"}, None)
    [delivery_id] = due(db, 10)
    assert claim(db, delivery_id, "dead") is not None
    assert claim(db, delivery_id, "alive") is None
    with db.session() as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(claimed_at=utcnow() - timedelta(seconds=CLAIM_LEASE_S + 1))
        )
    assert due(db, 10) == [delivery_id]
    taken = claim(db, delivery_id, "alive")
    assert taken is not None and taken.url == "https://crm.example/hook"


def test_failed_attempts_back_off_then_fail_and_a_success_delivers(db: Database) -> None:
    create_endpoint(db, "https://crm.example/hook", ["case.created"], "", True, None)
    insert_case(db, {"title": "one"}, None)
    [delivery_id] = due(db, 10)
    refused = AttemptResult(503, "HTTP 503", 12)
    for _attempt in range(len(RETRY_DELAYS_S)):
        assert claim(db, delivery_id, "w") is not None
        assert record_attempt(db, delivery_id, refused) == "pending"
        assert due(db, 10) == []  # waits for its backoff
        with db.session() as s:
            s.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
    assert claim(db, delivery_id, "w") is not None
    assert record_attempt(db, delivery_id, refused) == "failed"
    assert due(db, 10) == []
    log = webhook_outbox.redeliver(db, webhook_outbox_endpoint(db, delivery_id), delivery_id)
    assert log.delivery.state == "pending" and len(log.attempts) == len(RETRY_DELAYS_S) + 1
    assert claim(db, delivery_id, "w") is not None
    assert record_attempt(db, delivery_id, AttemptResult(204, None, 5)) == "delivered"


def webhook_outbox_endpoint(db: Database, delivery_id: str) -> str:
    with db.session() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row.endpoint_id


def test_the_backoff_grows_with_jitter_and_ends() -> None:
    rng = random.Random(7)
    for attempts_made, base in enumerate(RETRY_DELAYS_S, start=1):
        waits = [retry_delay_s(attempts_made, rng=rng) for _ in range(200)]
        assert all(w is not None and base * (1 - JITTER) <= w <= base * (1 + JITTER) for w in waits)
        assert len(set(waits)) > 100  # spread, not one moment for everyone
    assert retry_delay_s(len(RETRY_DELAYS_S) + 1) is None
