"""AR messages on /ws in-process: procedures, steps, marks, and misuse (no media needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.records.accounts import create_api_token, create_user
from signaling.messages import PROTOCOL_VERSION

PROCEDURE = "board-connector-reseat"


class Call:
    def __init__(self, client: TestClient, auth: dict[str, str], session_id: str, token: str) -> None:
        self.client, self.auth, self.session_id, self.token = client, auth, session_id, token


@pytest.fixture
def call(tmp_path: Path) -> Iterator[Call]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test"))
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
        case = client.post("/api/cases", json={"title": "Sound card"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        yield Call(client, auth, made["id"], made["customer_url"].rsplit("/", 1)[1])


def until(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(20):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r}")


def join(call: Call, ws: Any, role: str) -> dict[str, Any]:
    if role == "expert":
        ws.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": call.session_id}
        )
    else:
        ws.send_json(
            {
                "type": "join",
                "version": PROTOCOL_VERSION,
                "role": "customer",
                "token": call.token,
                "consent": True,
            }
        )
    return until(ws, "procedure")


def test_the_expert_picks_a_procedure_and_moves_through_its_steps(call: Call) -> None:
    with (
        call.client.websocket_connect("/ws") as customer,
        call.client.websocket_connect("/ws", headers=call.auth) as expert,
    ):
        assert join(call, customer, "customer").get("procedure") is None
        join(call, expert, "expert")
        expert.send_json({"type": "set_procedure", "procedure_id": PROCEDURE})
        chosen = until(customer, "procedure")
        assert chosen["procedure"]["id"] == PROCEDURE and chosen["step_id"] == "locate"
        assert chosen["procedure"]["steps"][0]["title"]
        expert.send_json({"type": "step", "action": "next"})
        assert until(customer, "procedure")["step_id"] == "find-header"
        expert.send_json({"type": "step", "action": "jump", "step_id": "check-capacitors"})
        assert until(customer, "procedure")["step_index"] == 3
        expert.send_json({"type": "step", "action": "complete"})
        done = until(customer, "procedure")
        assert done["completed"] == ["check-capacitors"] and done["changed_by"] == "expert"
        expert.send_json({"type": "step", "action": "previous"})
        assert until(customer, "procedure")["step_id"] == "press"
    case = call.client.get(f"/api/sessions/{call.session_id}", headers=call.auth).json()
    assert (
        call.client.get(f"/api/cases/{case['case_id']}", headers=call.auth).json()["procedure_id"]
        == PROCEDURE
    )


def test_without_a_located_device_a_mark_is_pinned_to_the_screen(call: Call) -> None:
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        join(call, expert, "expert")
        expert.send_json(
            {
                "type": "annotate",
                "shape": "arrow",
                "points_frame_px": [[100, 100], [200, 150]],
                "frame_size": [640, 480],
                "frame_timestamp_ms": 12345,
            }
        )
        added = until(expert, "annotation_added")["annotation"]
        assert added["anchored"] is False and added["points_frame_fraction"] == [
            [0.1562, 0.2083],
            [0.3125, 0.3125],
        ]
        expert.send_json({"type": "remove_annotation", "id": added["id"]})
        assert until(expert, "annotation_removed")["id"] == added["id"]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "set_procedure", "procedure_id": "no-such-procedure"}, "unknown_procedure"),
        ({"type": "step", "action": "next"}, "no_procedure"),
        (
            {
                "type": "annotate",
                "shape": "arrow",
                "points_frame_px": [[1, 1], [5000, 1]],
                "frame_size": [640, 480],
            },
            "out_of_range",
        ),
        (
            {"type": "annotate", "shape": "arrow", "points_frame_px": [[1, 1]], "frame_size": [640, 480]},
            "invalid_annotation",
        ),
        (
            {"type": "annotate", "shape": "blob", "points_frame_px": [[1, 1]], "frame_size": [640, 480]},
            "invalid_message",
        ),
        ({"type": "remove_annotation", "id": "nope"}, "unknown_annotation"),
        ({"type": "pointer", "x_frame_px": 900, "y_frame_px": 10, "frame_size": [640, 480]}, "out_of_range"),
        ({"type": "snapshot"}, "no_consent"),
    ],
)
def test_bad_ar_messages_get_a_clear_error_and_change_nothing(call: Call, message: dict, code: str) -> None:  # type: ignore[type-arg]
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        join(call, expert, "expert")
        expert.send_json(message)
        error = until(expert, "error")
        assert error["code"] == code and error["message"]
        expert.send_json({"type": "ping"})
        assert until(expert, "pong")
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        state = join(call, expert, "expert")
        assert state.get("procedure") is None and state["completed"] == []


def test_unknown_step_is_refused_and_the_step_stays(call: Call) -> None:
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        join(call, expert, "expert")
        expert.send_json({"type": "set_procedure", "procedure_id": PROCEDURE})
        until(expert, "procedure")
        expert.send_json({"type": "step", "action": "jump", "step_id": "teleport"})
        assert until(expert, "error")["code"] == "unknown_step"
        expert.send_json({"type": "step", "action": "next"})
        assert until(expert, "procedure")["step_id"] == "find-header"


@pytest.mark.parametrize(
    "message",
    [
        {"type": "set_procedure", "procedure_id": PROCEDURE},
        {"type": "step", "action": "next"},
        {
            "type": "annotate",
            "shape": "arrow",
            "points_frame_px": [[1, 1], [50, 50]],
            "frame_size": [640, 480],
        },
        {"type": "snapshot"},
        {"type": "burn_in", "enabled": True},
        {"type": "pointer", "x_frame_px": 10, "y_frame_px": 10, "frame_size": [640, 480]},
    ],
)
def test_a_customer_cannot_use_the_experts_tools(call: Call, message: dict) -> None:  # type: ignore[type-arg]
    with call.client.websocket_connect("/ws") as customer:
        join(call, customer, "customer")
        customer.send_json(message)
        assert until(customer, "error")["code"] == "forbidden"
