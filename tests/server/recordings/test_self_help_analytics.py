"""The self-help figures, the escalation rate per step, the time to resolution and the cases closed
without sending a device in, exact on a seeded set (docs/analytics.md defines each)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.records.database import Database
from server.records.models import Case, SelfHelpLink, SelfHelpRun
from tests.server.recordings.test_analytics import BOARD, DAY, add_session, board_figures

pytestmark = pytest.mark.both_databases

# name: (run state, step reached (escalated) or fixed on, case outcome, minutes to resolution)
RUNS: dict[str, tuple[str, str | None, str | None, int | None]] = {
    "R1": ("fixed", "check-capacitors", "fixed_by_self_help", 4),
    "R2": ("fixed", "check-capacitors", "fixed_by_self_help", 6),
    "R3": ("escalated", "find-header", None, None),
    "R4": ("picked_up", "find-header", "sent_to_repair", 20),
    "R5": ("escalated", "press", "fixed_remotely", 10),
    "R6": ("running", None, None, None),
}


def add_run(
    db: Database, link_id: str, started: datetime, spec: tuple[str, str | None, str | None, int | None]
) -> None:
    state, step, outcome, minutes = spec
    with db.session() as s:
        case = Case(
            title="Self-help",
            procedure_id=BOARD,
            source="self_help",
            status="closed" if outcome else "open",
            outcome=outcome,
            fixed_by_step=step if outcome in ("fixed_by_self_help", "fixed_remotely") else None,
            created_at=started,
            closed_at=started + timedelta(minutes=minutes) if minutes is not None else None,
        )
        s.add(case)
        s.flush()
        case_id = case.id
    session_id = add_session(db, case_id, started, 3)
    with db.session() as s:
        s.add(
            SelfHelpRun(
                link_id=link_id,
                case_id=case_id,
                session_id=session_id,
                state=state,
                started_at=started,
                step_reached=step if state != "fixed" else None,
            )
        )


@pytest.fixture
def seeded_runs(app: Starlette, client: TestClient) -> None:
    """Six board runs in November (two fixed alone, three escalated, one left running) and one in
    October, out of range."""
    db: Database = app.state.services.db
    with db.session() as s:
        link = SelfHelpLink(procedure_id=BOARD, token_sha256="0" * 64, label="box")
        s.add(link)
        s.flush()
        link_id = link.id
    for hour, spec in enumerate(RUNS.values(), start=1):
        add_run(db, link_id, DAY + timedelta(hours=hour), spec)
    add_run(db, link_id, datetime(2026, 10, 20, 9), ("escalated", "locate", None, None))


def test_self_help_runs_and_their_rates(seeded_runs: None, trainer_client: TestClient) -> None:
    board = board_figures(trainer_client)
    assert board["self_help"] == {
        "runs": 6,
        "self_resolved": {"count": 2, "of": 6, "rate": 2 / 6},
        "escalated": {"count": 3, "of": 6, "rate": 3 / 6},
    }


def test_the_escalation_rate_per_step(seeded_runs: None, trainer_client: TestClient) -> None:
    """Reached: runs that got to the step or past it (in the procedure's order), fixed or escalated;
    the run left running got nowhere known."""
    steps = {s["step_id"]: s for s in board_figures(trainer_client)["steps"]}
    assert {k: (s["escalations"], s["escalation_rate"]) for k, s in steps.items()} == {
        "locate": (0, {"count": 0, "of": 5, "rate": 0.0}),
        "find-header": (2, {"count": 2, "of": 5, "rate": 2 / 5}),
        "press": (1, {"count": 1, "of": 3, "rate": 1 / 3}),
        "check-capacitors": (0, {"count": 0, "of": 2, "rate": 0.0}),
    }
    assert {k: s["fixed_by"] for k, s in steps.items()}["check-capacitors"] == 2


def test_time_to_resolution_and_cases_closed_without_sending_in(
    seeded_runs: None, trainer_client: TestClient
) -> None:
    board = board_figures(trainer_client)
    assert (board["cases"], board["closed_cases"]) == (6, 4)
    assert board["median_time_to_resolution_s"] == 480.0  # 4, 6, 10 and 20 min
    assert board["closed_without_sending_in"] == {"count": 3, "of": 4, "rate": 3 / 4}
    assert board["outcomes"]["fixed_by_self_help"] == 2


def test_october_alone_has_the_one_run_of_october(seeded_runs: None, trainer_client: TestClient) -> None:
    october = board_figures(trainer_client, "from=2026-10-01&to=2026-10-31")
    assert october["self_help"]["runs"] == 1 and october["self_help"]["escalated"]["count"] == 1
    assert {s["step_id"]: s["escalations"] for s in october["steps"]}["locate"] == 1


def test_closing_a_case_stamps_when_and_reopening_clears_it(
    trainer_client: TestClient, expert_client: TestClient
) -> None:
    case = expert_client.post("/api/cases", json={"title": "t", "procedure_id": BOARD}).json()
    closed = expert_client.patch(
        f"/api/cases/{case['id']}", json={"status": "closed", "outcome": "no_fault_found"}
    )
    assert closed.status_code == 200, closed.text
    db_case = expert_client.app.state.services.db  # type: ignore[attr-defined]
    with db_case.session() as s:
        row = s.get(Case, case["id"])
        assert row is not None and row.closed_at is not None
    expert_client.patch(f"/api/cases/{case['id']}", json={"status": "open"})
    with db_case.session() as s:
        row = s.get(Case, case["id"])
        assert row is not None and row.closed_at is None
