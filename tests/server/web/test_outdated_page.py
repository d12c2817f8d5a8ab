"""A page of another protocol version is told to reload, and closed with a code every page takes as
final, so an old page (that does not know ``outdated_page``) stops retrying too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.config import Settings
from server.records.accounts import create_api_token, create_user
from signaling.messages import OUTDATED_PAGE_MESSAGE, PROTOCOL_VERSION
from signaling.state import CLOSE_FORBIDDEN

from .wire import LiveSetup


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveSetup]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test"))
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        yield LiveSetup.make(client, create_api_token(app.state.services.db, expert))


def customer_join(live: LiveSetup, **version: Any) -> dict[str, Any]:
    return {"type": "join", "role": "customer", "token": live.token, "consent": True, **version}


@pytest.mark.parametrize("version", [{}, {"version": 0}, {"version": PROTOCOL_VERSION + 1}])
def test_a_customer_page_of_another_version_is_told_to_reload(
    live: LiveSetup, version: dict[str, int]
) -> None:
    with live.client.websocket_connect("/ws") as ws:
        ws.send_json(customer_join(live, **version))
        refused = {"type": "error", "code": "outdated_page", "message": OUTDATED_PAGE_MESSAGE}
        assert ws.receive_json() == refused
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == CLOSE_FORBIDDEN
    assert closed.value.reason == OUTDATED_PAGE_MESSAGE
    # It did not take the customer's seat: the current page joins as usual.
    with live.client.websocket_connect("/ws") as ws:
        live.join_customer(ws)


def test_an_expert_console_of_another_version_is_told_to_reload(live: LiveSetup) -> None:
    with live.client.websocket_connect("/ws", headers=live.auth) as ws:
        ws.send_json({"type": "join", "role": "expert", "session_id": live.session_id, "version": "1"})
        error = ws.receive_json()
        assert error["code"] == "invalid_message" and "version" in error["message"]
        ws.send_json({"type": "join", "role": "expert", "session_id": live.session_id})
        assert ws.receive_json()["code"] == "outdated_page"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == CLOSE_FORBIDDEN
