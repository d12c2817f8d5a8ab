"""The expert sees which language the customer's page is in: it comes with the customer's ``join``
(``client.language``) and reaches the expert in ``participant_info``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.records.accounts import create_api_token, create_user
from signaling.messages import PROTOCOL_VERSION
from tests.server.web.test_ws import CHROME_ON_ANDROID, Setup, join_expert, receive_until


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test"))
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
        case = client.post("/api/cases", json={"title": "Washing machine"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        yield Setup(client, auth, case["id"], made["id"], made["customer_url"].rsplit("/", 1)[1])
    app.state.services.db.close()


def customer_join(setup: Setup, client: dict[str, str]) -> dict[str, object]:
    return {
        "type": "join",
        "version": PROTOCOL_VERSION,
        "role": "customer",
        "token": setup.token,
        "consent": True,
        "client": client,
    }


def test_the_expert_is_told_the_customers_language(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as customer:
            customer.send_json(customer_join(setup, {"user_agent": CHROME_ON_ANDROID, "language": "ar"}))
            assert receive_until(customer, "joined")
            info = receive_until(expert, "participant_info")
            assert info["language"] == "ar" and info["browser"] == "Chrome 156 on Android"


def test_a_page_that_names_no_language_still_joins(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as customer:
            customer.send_json(customer_join(setup, {"user_agent": CHROME_ON_ANDROID}))
            assert receive_until(customer, "joined")
            assert "language" not in receive_until(expert, "participant_info")


def test_a_language_that_is_not_a_tag_is_refused_with_the_field_named(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        customer.send_json(customer_join(setup, {"user_agent": "x", "language": "<script>"}))
        error = receive_until(customer, "error")
        assert error["code"] == "invalid_message" and "language" in error["message"]
