"""``repairsight_websocket_errors_total{code}``: every signaling socket the server closes with an
error code is counted, by code; sockets closed as intended (the session ended) are not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.metrics import REGISTRY
from server.records.accounts import create_api_token, create_user
from signaling.messages import MAX_MESSAGE_BYTES, PROTOCOL_VERSION


def errors_counted(code: int) -> float:
    return REGISTRY.get_sample_value("repairsight_websocket_errors_total", {"code": str(code)}) or 0.0


@dataclass
class Call:
    client: TestClient
    auth: dict[str, str]
    session_id: str


@pytest.fixture
def call(app: Starlette, client: TestClient) -> Iterator[Call]:
    expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
    auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
    case = client.post("/api/cases", json={"title": "Printer jams"}, headers=auth).json()
    made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
    yield Call(client, auth, made["id"])


def join_expert(call: Call, ws) -> None:  # type: ignore[no-untyped-def]
    join = {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": call.session_id}
    ws.send_json(join)
    assert ws.receive_json()["type"] == "joined"


def closed_code(ws) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(WebSocketDisconnect) as closed:
        for _ in range(20):
            ws.receive_json()
    return int(closed.value.code)


def test_a_socket_closed_for_a_message_too_large_is_counted(call: Call) -> None:
    before = errors_counted(1009)
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        join_expert(call, expert)
        expert.send_text(json.dumps({"type": "chat", "text": "x" * (MAX_MESSAGE_BYTES + 10)}))
        assert closed_code(expert) == 1009
    assert errors_counted(1009) == before + 1


def test_a_socket_of_another_origin_is_counted(call: Call) -> None:
    before = errors_counted(4003)
    with pytest.raises(WebSocketDisconnect) as refused:  # noqa: SIM117 - the refusal is on entering
        with call.client.websocket_connect("/ws", headers={"Origin": "http://evil.example"}):
            pass
    assert refused.value.code == 4003
    assert errors_counted(4003) == before + 1


def test_an_internal_error_is_counted(app: Starlette, call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.services.live, "open_for", broken)
    before = errors_counted(1011)
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        expert.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": call.session_id}
        )
        assert closed_code(expert) == 1011
    assert errors_counted(1011) == before + 1


def test_a_session_that_ends_is_no_error(call: Call) -> None:
    before = {code: errors_counted(code) for code in (4002, 1000, 1011)}
    with call.client.websocket_connect("/ws", headers=call.auth) as expert:
        join_expert(call, expert)
        ended = call.client.post(f"/api/sessions/{call.session_id}/end", headers=call.auth)
        assert ended.status_code == 200
        assert closed_code(expert) == 4002
    assert {code: errors_counted(code) for code in before} == before
