"""A session made over the REST API of an in-process app, and its two sockets' joins: shared by
the tests of what ``/ws`` does with malformed, oversized and too frequent messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession

from signaling.messages import PROTOCOL_VERSION


@dataclass
class LiveSetup:
    client: TestClient
    auth: dict[str, str]
    session_id: str
    token: str

    @classmethod
    def make(cls, client: TestClient, api_token: str) -> LiveSetup:
        auth = {"Authorization": f"Bearer {api_token}"}
        case = client.post("/api/cases", json={"title": "Printer jams"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        return cls(client, auth, made["id"], made["customer_url"].rsplit("/", 1)[1])

    def join_customer(self, ws: WebSocketTestSession) -> None:
        ws.send_json(
            {
                "type": "join",
                "version": PROTOCOL_VERSION,
                "role": "customer",
                "token": self.token,
                "consent": False,
            }
        )
        assert ws.receive_json()["type"] == "joined"

    def join_expert(self, ws: WebSocketTestSession) -> None:
        """Join on a socket opened with ``headers=self.auth``."""
        ws.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": self.session_id}
        )
        assert ws.receive_json()["type"] == "joined"


def receive_until(ws: WebSocketTestSession, kind: str, limit: int = 50) -> dict[str, Any]:
    """The next message of type ``kind``, skipping the others (a disconnect raises)."""
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == kind:
            return dict(message)
    raise AssertionError(f"no {kind!r} message in {limit}")


def answers_to(ws: WebSocketTestSession, frame: str, limit: int = 50) -> list[dict[str, Any]]:
    """Send ``frame`` and then a ``ping``: what came back before the ``pong``. A socket the server
    closed raises ``WebSocketDisconnect`` (with its code), and no answer can be waited for forever."""
    ws.send_text(frame)
    ws.send_json({"type": "ping"})
    got: list[dict[str, Any]] = []
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == "pong":
            return got
        got.append(message)
    raise AssertionError(f"no pong after {limit} messages: {got}")


def error_of(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The first ``error`` among ``answers`` (empty when there is none)."""
    return next((message for message in answers if message["type"] == "error"), {})


def error_code(answers: list[dict[str, Any]]) -> str | None:
    return error_of(answers).get("code")
