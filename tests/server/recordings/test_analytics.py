"""Outcome figures on a seeded set of cases whose every rate is a distinct, known fraction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.recordings.files import recording_files
from server.records.database import Database
from server.records.models import Case, RepairSession
from server.records.tokens import new_id, sha256_hex

pytestmark = pytest.mark.both_databases

BOARD = "board-connector-reseat"
ROUTER = "router-cable-reseat"
DAY = datetime(2026, 11, 10, 9, 0)
RANGE = "from=2026-11-01&to=2026-11-30"


def add_case(
    db: Database, procedure_id: str | None, outcome: str | None, fixed_by_step: str | None = None
) -> str:
    with db.session() as s:
        case = Case(
            title="c",
            procedure_id=procedure_id,
            status="closed" if outcome else "open",
            outcome=outcome,
            fixed_by_step=fixed_by_step,
        )
        s.add(case)
        s.flush()
        return case.id


def add_session(
    db: Database, case_id: str, started: datetime, minutes: float | None, state: str = "ended"
) -> str:
    with db.session() as s:
        row = RepairSession(
            case_id=case_id,
            join_token_sha256=sha256_hex(new_id()),  # a link nobody holds (only hashes are stored)
            token_expires_at=started,
            state=state,
            started_at=started,
            ended_at=started + timedelta(minutes=minutes) if minutes is not None else None,
        )
        s.add(row)
        s.flush()
        return row.id


def write_steps(
    recordings: Path, session_id: str, started: datetime, steps: list[tuple[int, str]], end_s: int | None
) -> None:
    """step_changed events at ``started + s`` seconds (with ar noise between), and session_ended."""

    def at(seconds: int) -> str:
        return (started + timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z"

    lines: list[dict[str, Any]] = [{"at": at(0), "t_ms": None, "type": "join", "role": "customer"}]
    for seconds, step in steps:
        lines.append({"at": at(seconds), "t_ms": seconds * 1000, "type": "step_changed", "step_id": step})
        lines.append(
            {
                "at": at(seconds + 1),
                "t_ms": 1,
                "type": "ar",
                "frame_t_ms": 1,
                "step_id": step,
                "homography": None,
            }
        )
    if end_s is not None:
        lines.append({"at": at(end_s), "t_ms": end_s * 1000, "type": "session_ended", "reason": "done"})
    path = recording_files(recordings, session_id).events
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"at": "cut off')


@pytest.fixture
def seeded(app: Starlette, client: TestClient) -> None:
    """Board procedure, in November: 9 closed cases + 1 open, 10 ended sessions in range. Made after
    the server started (``client``), so start-up recovery does not end the live session.

    closed: A, G, J fixed_remotely with one session (first-time fixes), B fixed_remotely with a second
    session in December, C and D no_fault_found, E sent_to_repair, F and K unresolved.
    -> first-time fix 3/9, no fault found 2/9; outcomes fixed 4, nff 2, sent 1, unresolved 2.
    Session lengths 1..10 min -> median 5.5 min (330 s).
    """
    db: Database = app.state.services.db
    recordings = app.state.services.settings.recordings_dir
    cases = {
        "A": add_case(db, BOARD, "fixed_remotely", "press"),
        "B": add_case(db, BOARD, "fixed_remotely", "find-header"),
        "C": add_case(db, BOARD, "no_fault_found"),
        "D": add_case(db, BOARD, "no_fault_found"),
        "E": add_case(db, BOARD, "sent_to_repair"),
        "F": add_case(db, BOARD, "unresolved"),
        "G": add_case(db, BOARD, "fixed_remotely", "press"),
        "J": add_case(db, BOARD, "fixed_remotely"),
        "K": add_case(db, BOARD, "unresolved"),
        "H": add_case(db, BOARD, None),
    }
    sessions = {}
    for minutes, name in enumerate("ABCDEFGJKH", start=1):
        sessions[name] = add_session(db, cases[name], DAY + timedelta(hours=minutes), minutes)
    add_session(db, cases["B"], datetime(2026, 12, 5, 9), 5)  # B's second session: after the range
    add_session(db, cases["H"], DAY, None, state="live")  # not ended: not counted
    october = add_case(db, BOARD, "fixed_remotely", "press")
    add_session(db, october, datetime(2026, 10, 20, 9), 3)  # before the range
    add_case(db, BOARD, "no_fault_found")  # closed with no session at all: not in any range
    # Router: one first-time fix and one sent to repair.
    add_session(db, add_case(db, ROUTER, "fixed_remotely"), DAY, 2)
    add_session(db, add_case(db, ROUTER, "sent_to_repair"), DAY, 4)
    # Steps: A locate 30 s, find-header 60, press 30; B locate 50, find-header 70 (to ended_at);
    # C locate 20 + 20, find-header 20 + 40 (went back once).
    write_steps(recordings, sessions["A"], DAY, [(0, "locate"), (30, "find-header"), (90, "press")], 120)
    b_start = DAY + timedelta(hours=2)
    write_steps(recordings, sessions["B"], b_start, [(0, "locate"), (50, "find-header")], None)
    with db.session() as s:
        row = s.get(RepairSession, sessions["B"])
        assert row is not None
        row.ended_at = b_start + timedelta(seconds=120)
    c_start = DAY + timedelta(hours=3)
    write_steps(
        recordings,
        sessions["C"],
        c_start,
        [(0, "locate"), (20, "find-header"), (40, "locate"), (60, "find-header")],
        100,
    )


def board_figures(client: TestClient, query: str = RANGE) -> dict[str, Any]:
    response = client.get(f"/api/analytics?{query}")
    assert response.status_code == 200, response.text
    [board] = [p for p in response.json()["procedures"] if p["procedure_id"] == BOARD]
    return board


def test_rates_and_counts_per_procedure(seeded: None, trainer_client: TestClient) -> None:
    body = trainer_client.get(f"/api/analytics?{RANGE}").json()
    assert (body["from"], body["to"]) == ("2026-11-01", "2026-11-30")
    assert [p["procedure_id"] for p in body["procedures"]] == [BOARD, ROUTER]  # by title
    board = board_figures(trainer_client)
    assert board["title"] == "Reseat the J5 header cable"
    assert (board["cases"], board["sessions"], board["closed_cases"]) == (10, 10, 9)
    assert board["median_session_s"] == 330.0
    assert board["outcomes"] == {
        "fixed_remotely": 4,
        "fixed_by_self_help": 0,
        "sent_to_repair": 1,
        "no_fault_found": 2,
        "unresolved": 2,
    }
    assert board["first_time_fix"] == {"count": 3, "of": 9, "rate": 3 / 9}
    assert board["no_fault_found"] == {"count": 2, "of": 9, "rate": 2 / 9}
    [router] = [p for p in body["procedures"] if p["procedure_id"] == ROUTER]
    assert router["first_time_fix"] == {"count": 1, "of": 2, "rate": 1 / 2}
    assert router["no_fault_found"] == {"count": 0, "of": 2, "rate": 0.0}
    assert router["median_session_s"] == 180.0


def test_demo_sessions_are_left_out(seeded: None, app: Starlette, trainer_client: TestClient) -> None:
    before = board_figures(trainer_client)
    db: Database = app.state.services.db
    case_id = add_case(db, BOARD, "fixed_remotely", "find-header")
    with db.session() as s:
        s.get(Case, case_id).source = "demo"  # type: ignore[union-attr]
    add_session(db, case_id, datetime(2026, 11, 10, 9, 0), 3)
    after = board_figures(trainer_client)
    assert (after["cases"], after["sessions"], after["outcomes"]) == (
        before["cases"],
        before["sessions"],
        before["outcomes"],
    )


def test_figures_per_step(seeded: None, trainer_client: TestClient) -> None:
    steps = {s["step_id"]: s for s in board_figures(trainer_client)["steps"]}
    assert list(steps) == ["locate", "find-header", "press", "check-capacitors"]
    assert steps["find-header"]["title"] == "Find header J5"
    assert {
        k: (s["sessions_reached"], s["median_time_on_step_s"], s["fixed_by"]) for k, s in steps.items()
    } == {
        "locate": (3, 40.0, 0),
        "find-header": (3, 60.0, 1),
        "press": (1, 30.0, 2),
        "check-capacitors": (0, None, 0),
    }


def test_the_date_range_and_procedure_filter(seeded: None, trainer_client: TestClient) -> None:
    # Only October: the one October case, a first-time fix.
    october = board_figures(trainer_client, "from=2026-10-01&to=2026-10-31")
    assert (october["sessions"], october["first_time_fix"]) == (1, {"count": 1, "of": 1, "rate": 1.0})
    # One day: the sessions started on it (both days included).
    day = board_figures(trainer_client, "from=2026-11-10&to=2026-11-10")
    assert day["sessions"] == 10
    only = trainer_client.get(f"/api/analytics?{RANGE}&procedure={ROUTER}").json()["procedures"]
    assert [p["procedure_id"] for p in only] == [ROUTER]
    assert trainer_client.get("/api/analytics?from=2027-01-01&to=2027-01-31").json()["procedures"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01&to=2026-12-01", "from: '2026-13-01' is not a date"),
        ("from=2026-11-01&to=yesterday", "to: 'yesterday' is not a date"),
        ("from=2026-11-30&to=2026-11-01", "is after to"),
    ],
)
def test_bad_dates_are_422(trainer_client: TestClient, query: str, message: str) -> None:
    response = trainer_client.get(f"/api/analytics?{query}")
    assert response.status_code == 422 and message in response.json()["error"]["message"]


def test_analytics_is_for_staff_only(client: TestClient) -> None:
    assert client.get("/api/analytics").status_code == 401


def test_the_default_range_is_the_last_30_days(trainer_client: TestClient) -> None:
    body = trainer_client.get("/api/analytics").json()
    span = datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])
    assert span == timedelta(days=29)


def test_the_dashboard_page_is_served_to_staff_only(trainer_client: TestClient, client: TestClient) -> None:
    response = trainer_client.get("/dashboard")
    assert response.status_code == 200
    for testid in ("analytics-from", "analytics-to", "analytics-apply"):
        assert f'data-testid="{testid}"' in response.text
    assert '<script type="module" src="/static/js/dashboard.js">' in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    signed_out = client.get("/dashboard", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/?next=/dashboard"


def test_steps_of_another_procedure_shown_in_a_session_are_not_counted_under_the_cases(
    app: Starlette, client: TestClient, trainer_client: TestClient
) -> None:
    """The dashboard once listed the router's place-device under the board procedure: the expert had
    tried the router procedure first in a session whose case ended up on the board procedure."""
    db: Database = app.state.services.db
    recordings = app.state.services.settings.recordings_dir
    case_id = add_case(db, BOARD, "fixed_remotely")
    session_id = add_session(db, case_id, DAY, 10)

    def at(seconds: int) -> str:
        return (DAY + timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z"

    lines = [
        {"at": at(0), "t_ms": 0, "type": "procedure_chosen", "procedure_id": ROUTER, "by": "expert"},
        {"at": at(0), "t_ms": 0, "type": "step_changed", "step_id": "place-device", "index": 0},
        {"at": at(60), "t_ms": 60_000, "type": "procedure_chosen", "procedure_id": BOARD, "by": "expert"},
        {"at": at(60), "t_ms": 60_000, "type": "step_changed", "step_id": "locate", "index": 0},
        {"at": at(600), "t_ms": 600_000, "type": "session_ended", "reason": "done"},
    ]
    path = recording_files(recordings, session_id).events
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    figures = trainer_client.get(f"/api/analytics?{RANGE}").json()["procedures"]
    board = next(f for f in figures if f["procedure_id"] == BOARD)
    steps = {s["step_id"]: s for s in board["steps"]}
    assert "place-device" not in steps
    assert steps["locate"]["sessions_reached"] == 1 and steps["locate"]["median_time_on_step_s"] == 540.0
