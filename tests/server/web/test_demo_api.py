"""``POST /api/demo`` in-process: the server's own demo customer joins its session through the
session's signaling path with real aiortc media, one demo per expert, and it ends its session once
its expert has left (the grace is shortened here)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.live.browsers import DEMO_BROWSER
from server.records.accounts import create_api_token, create_user
from signaling.messages import PROTOCOL_VERSION

PROCEDURE = "board-connector-reseat"
GRACE_S = 1.0


@dataclass
class Site:
    app: Starlette
    client: TestClient

    def auth(self, username: str, role: str = "expert") -> dict[str, str]:
        db = self.app.state.services.db
        user = create_user(db, username, role, "correct horse battery")
        return {"Authorization": f"Bearer {create_api_token(db, user)}"}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", reconnect_grace_s=GRACE_S))
    with TestClient(app) as client:
        yield Site(app, client)


def wait(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def until(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(30):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r}")


def test_a_demo_is_a_case_and_a_session_whose_customer_is_the_server(site: Site) -> None:
    auth = site.auth("erin")
    made = site.client.post("/api/demo", json={"procedure_id": PROCEDURE}, headers=auth)
    assert made.status_code == 201, made.text
    demo = made.json()
    assert demo["procedure_id"] == PROCEDURE
    assert demo["console_url"].endswith(f"/console/{demo['session_id']}")
    case = site.client.get(f"/api/cases/{demo['case_id']}", headers=auth).json()
    assert case["title"] == "Demo: Reseat the J5 header cable"
    assert case["source"] == "demo" and case["procedure_id"] == PROCEDURE

    # The customer is in the session before the answer came, consenting as a demo: recording.
    session = site.client.get(f"/api/sessions/{demo['session_id']}", headers=auth).json()
    assert session["participants"]["customer"] == "joined"
    assert session["state"] == "live" and session["consent"] is True
    live = site.app.state.services.live.sessions[demo["session_id"]]
    # Its video reaches the session's server-side peer, as a phone's does.
    wait(lambda: live.media.customer_video_at is not None, 15, "the demo's video at the server")

    # The expert joins the session as for any call and is told who the customer is.
    with site.client.websocket_connect("/ws", headers=auth) as expert:
        expert.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": demo["session_id"]}
        )
        assert until(expert, "joined")["peers"]["customer"] == "joined"
        assert until(expert, "participant_info")["browser"] == DEMO_BROWSER
        expert.send_json({"type": "end_session"})
        until(expert, "session_ended")
    ended = site.client.get(f"/api/sessions/{demo['session_id']}", headers=auth).json()
    assert ended["state"] == "ended" and ended["recording"]["status"] == "complete"
    assert ended["recording"]["duration_s"] > 0


def test_one_demo_per_expert_at_a_time(site: Site) -> None:
    erin, eve = site.auth("erin"), site.auth("eve")
    first = site.client.post("/api/demo", headers=erin)
    assert first.status_code == 201, first.text
    again = site.client.post("/api/demo", json={"procedure_id": PROCEDURE}, headers=erin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert "already have a demo running" in again.json()["error"]["message"]
    assert first.json()["session_id"] in again.json()["error"]["message"]
    # Another expert may run their own.
    assert site.client.post("/api/demo", headers=eve).status_code == 201
    # Once the first one ends, its expert may start another.
    site.client.post(f"/api/sessions/{first.json()['session_id']}/end", headers=erin)
    wait(lambda: len(site.app.state.services.demos.running()) == 1, 10, "the ended demo to leave")
    assert site.client.post("/api/demo", headers=erin).status_code == 201


def test_the_demo_ends_its_session_when_its_expert_has_left(site: Site) -> None:
    auth = site.auth("erin")
    demo = site.client.post("/api/demo", headers=auth).json()
    with site.client.websocket_connect("/ws", headers=auth) as expert:
        expert.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": demo["session_id"]}
        )
        until(expert, "joined")
    # The expert's page closed (a clean close: left). A reload would be back within the grace.
    session = wait(
        lambda: (lambda s: s if s["state"] == "ended" else None)(
            site.client.get(f"/api/sessions/{demo['session_id']}", headers=auth).json()
        ),
        GRACE_S + 10,
        "the demo session to end",
    )
    assert session["end_reason"] == "the demo ended: no expert was in it"
    wait(lambda: not site.app.state.services.demos.running(), 10, "the demo to stop")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"procedure_id": "no-such-procedure"}, 404, "not_found"),
        ({"procedure_id": ""}, 422, "invalid"),
        ({"procedure": PROCEDURE}, 422, "invalid"),
    ],
)
def test_a_bad_request_is_told_what_is_wrong_and_starts_nothing(
    site: Site, body: dict[str, Any], status: int, code: str
) -> None:
    auth = site.auth("erin")
    answer = site.client.post("/api/demo", json=body, headers=auth)
    assert answer.status_code == status and answer.json()["error"]["code"] == code, answer.text
    assert not site.app.state.services.demos.running()
    assert site.client.get("/api/cases", headers=auth).json()["cases"] == []
    # The refused request held no slot.
    assert site.client.post("/api/demo", headers=auth).status_code == 201


def test_a_trainer_may_run_a_demo_and_no_customers_session(site: Site) -> None:
    assert site.client.post("/api/demo").status_code == 401
    trainer = site.auth("tom", "trainer")
    made = site.client.post("/api/demo", json={"procedure_id": PROCEDURE}, headers=trainer)
    assert made.status_code == 201, made.text
    join = {"type": "join", "version": PROTOCOL_VERSION, "role": "expert"}
    with site.client.websocket_connect("/ws", headers=trainer) as console:
        console.send_json({**join, "session_id": made.json()["session_id"]})
        answer = console.receive_json()
        assert answer["type"] == "joined", answer  # not an error: the trainer runs the demo
        assert answer["peers"]["customer"] == "joined"
        console.send_json({"type": "end_session"})
        until(console, "session_ended")
    # A customer's session (not a demo) stays an expert's.
    expert = site.auth("erin")
    case = site.client.post("/api/cases", json={"title": "Board"}, headers=expert).json()
    session = site.client.post(f"/api/cases/{case['id']}/sessions", headers=expert).json()
    with site.client.websocket_connect("/ws", headers=trainer) as console:
        console.send_json({**join, "session_id": session["id"]})
        refused = until(console, "error")
        assert refused["code"] == "forbidden", refused
