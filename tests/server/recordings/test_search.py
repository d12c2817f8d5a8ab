"""GET /api/library: recordings across cases by text, procedure, step, outcome and date."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.recordings.files import recording_files
from server.recordings.search import refresh_index
from tests.server.seeded_recordings import board_session_events, event, seed_session, write_events

pytestmark = pytest.mark.both_databases


@pytest.fixture
def library(app: Starlette, expert_client: TestClient) -> dict[str, dict[str, str]]:
    """Three recorded cases: the board one (procedure, steps, chat), a router one, and a declined one."""
    board = seed_session(
        app,
        expert_client,
        title="Sound card crackles",
        device_model="Creative PCI sound card",
        events=board_session_events(),
        started_at=datetime(2026, 11, 20, 10, 0),
    )
    router = seed_session(
        app,
        expert_client,
        title="Router keeps rebooting",
        device_model="Fritzbox 7590",
        notes="Customer already swapped the power supply",
        events=[
            event(0, "recording_started"),
            event(2500, "chat", id="c", from_role="customer", text="blinking red"),
        ],
        started_at=datetime(2026, 11, 22, 15, 30),
    )
    declined = seed_session(
        app,
        expert_client,
        title="Crackles but no video",
        events=[event(None, "chat", id="c", from_role="expert", text="crackles")],
        media=False,
        status="declined",
        started_at=datetime(2026, 11, 21, 9, 0),
    )
    closed = expert_client.patch(
        f"/api/cases/{router['case_id']}", json={"status": "closed", "outcome": "no_fault_found"}
    )
    assert closed.status_code == 200, closed.text
    return {"board": board, "router": router, "declined": declined}


def found(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/library", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def sessions(results: list[dict[str, Any]]) -> list[str]:
    return [r["session_id"] for r in results]


def test_everything_recorded_newest_first_without_unrecorded_sessions(
    library: dict[str, dict[str, str]], trainer_client: TestClient
) -> None:
    results = found(trainer_client)
    assert sessions(results) == [library["router"]["session_id"], library["board"]["session_id"]]
    assert results[0]["url"] == f"/playback/{library['router']['session_id']}#t=0"


def test_chat_text_links_to_the_moment_it_was_said(
    library: dict[str, dict[str, str]], trainer_client: TestClient
) -> None:
    results = found(trainer_client, q="PLUG looks")
    assert sessions(results) == [library["board"]["session_id"]]
    assert results[0]["matched_in"] == ["chat"]
    assert results[0]["url"] == f"/playback/{library['board']['session_id']}#t=0.9"
    assert results[0]["chat_hits"][0]["text"] == "The J5 plug looks tilted"
    # Wildcards in the text are plain characters.
    assert found(trainer_client, q="plug%tilted") == []
    assert found(trainer_client, q="_") == []


def test_case_title_device_model_and_notes(
    library: dict[str, dict[str, str]], trainer_client: TestClient
) -> None:
    assert sessions(found(trainer_client, q="crackles")) == [library["board"]["session_id"]]
    assert sessions(found(trainer_client, q="fritzbox")) == [library["router"]["session_id"]]
    by_notes = found(trainer_client, q="power supply")
    assert sessions(by_notes) == [library["router"]["session_id"]]
    assert by_notes[0]["matched_in"] == ["notes"] and by_notes[0]["url"].endswith("#t=0")
    assert found(trainer_client, q="dishwasher") == []


def test_procedure_step_and_outcome(library: dict[str, dict[str, str]], trainer_client: TestClient) -> None:
    board = library["board"]["session_id"]
    assert sessions(found(trainer_client, procedure="board-connector-reseat")) == [board]
    assert found(trainer_client, procedure="router-cable-reseat") == []
    step = found(trainer_client, step="find-header")
    assert sessions(step) == [board]
    assert step[0]["url"] == f"/playback/{board}#t=0.7" and step[0]["moment"] == {
        "t_ms": 700,
        "why": "step",
        "step_id": "find-header",
        "title": "2. Find header J5",
    }
    assert found(trainer_client, procedure="router-cable-reseat", step="find-header") == []
    assert found(trainer_client, step="press") == []
    assert sessions(found(trainer_client, outcome="no_fault_found")) == [library["router"]["session_id"]]
    assert found(trainer_client, outcome="fixed_remotely") == []
    assert sessions(found(trainer_client, q="tilted", step="find-header")) == [board]


def test_date_range(library: dict[str, dict[str, str]], trainer_client: TestClient) -> None:
    board, router = library["board"]["session_id"], library["router"]["session_id"]
    assert sessions(found(trainer_client, **{"from": "2026-11-21"})) == [router]
    assert sessions(found(trainer_client, to="2026-11-20")) == [board]  # a bare date includes the day
    assert sessions(found(trainer_client, **{"from": "2026-11-20", "to": "2026-11-22"})) == [router, board]
    assert sessions(found(trainer_client, **{"from": "2026-11-22T16:00:00+01:00"})) == [router]
    assert found(trainer_client, **{"from": "2026-11-23"}) == []


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "22/11/2026"}, "from: '22/11/2026' is not a date"),
        ({"to": "2026-13-01"}, "to: '2026-13-01' is not a date"),
        ({"from": "2026-11-22", "to": "2026-11-21"}, "from must be before to"),
        ({"outcome": "fixed"}, "outcome: 'fixed' is not one of"),
        ({"procedure": "Board Reseat"}, "procedure: 'Board Reseat' is not an id"),
        ({"q": "x" * 201}, "q: at most 200 characters"),
        ({"title": "x"}, "unknown parameter(s) title"),
    ],
)
def test_bad_parameters_are_refused_clearly(
    trainer_client: TestClient, params: dict[str, str], says: str
) -> None:
    response = trainer_client.get("/api/library", params=params)
    assert response.status_code == 422
    assert says in response.json()["error"]["message"]


def test_signed_out_is_refused(client: TestClient) -> None:
    assert client.get("/api/library").status_code == 401


def test_the_index_follows_a_log_that_grows_and_is_not_rebuilt_when_unchanged(
    app: Starlette, library: dict[str, dict[str, str]], trainer_client: TestClient
) -> None:
    settings = app.state.services.settings
    assert found(trainer_client, q="new line") == []
    assert (
        refresh_index(app.state.services.db, settings.recordings_dir) == 0
    )  # nothing changed since the search
    path = recording_files(settings.recordings_dir, library["router"]["session_id"]).events
    events = [
        event(0, "recording_started"),
        event(4200, "chat", id="d", from_role="expert", text="A new line"),
    ]
    write_events(path, events)
    results = found(trainer_client, q="new line")
    assert sessions(results) == [library["router"]["session_id"]]
    assert results[0]["url"].endswith("#t=4.2")


def test_a_cut_off_log_is_indexed_up_to_the_cut(app: Starlette, expert_client: TestClient) -> None:
    ids = seed_session(app, expert_client, events=board_session_events(), events_tail='{"t_ms": 17, "ty')
    assert sessions(found(expert_client, q="unplug the power")) == [ids["session_id"]]
