"""The procedure in the customer's language over /ws, in-process: the customer's ``procedure``
messages are in its page's language (from its join, and again after its picker's ``set_language``),
the expert's stay in the procedure's main language, and the self-help page's procedure follows the
browser's language."""

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
from tests.server.web.test_ws import Setup, join_expert
from tests.server.web.wire import answers_to, error_of, receive_until

PROCEDURE = "board-connector-reseat"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test"))
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
        case = client.post("/api/cases", json={"title": "Sound card"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        yield Setup(client, auth, case["id"], made["id"], made["customer_url"].rsplit("/", 1)[1])
    app.state.services.db.close()


def join_customer_in(setup: Setup, ws: Any, language: str) -> None:
    ws.send_json(
        {
            "type": "join",
            "version": PROTOCOL_VERSION,
            "role": "customer",
            "token": setup.token,
            "consent": False,
            "client": {"user_agent": "test", "language": language},
        }
    )
    assert receive_until(ws, "joined")


def procedure_with_title(ws: Any) -> tuple[str, str, str]:
    """The next ``procedure`` message with a procedure (a join's has none before one is picked): its
    language, title and first step's title."""
    for _ in range(5):
        procedure = receive_until(ws, "procedure").get("procedure")
        if procedure is not None:
            return procedure["language"], procedure["title"], procedure["steps"][0]["title"]
    raise AssertionError("no procedure message with a procedure")


def test_the_customer_reads_its_language_and_the_expert_the_main_one(setup: Setup) -> None:
    with (
        setup.client.websocket_connect("/ws", headers=setup.auth) as expert,
        setup.client.websocket_connect("/ws") as customer,
    ):
        join_expert(setup, expert)
        join_customer_in(setup, customer, "de-DE")
        expert.send_json({"type": "set_procedure", "procedure_id": PROCEDURE})
        assert procedure_with_title(expert) == ("en", "Reseat the J5 header cable", "Find the board")
        assert procedure_with_title(customer) == (
            "de",
            "Kabel an Stiftleiste J5 neu stecken",
            "Platine finden",
        )

        # The picker: the customer gets the procedure again in Arabic, the expert is told.
        customer.send_json({"type": "set_language", "language": "ar"})
        assert procedure_with_title(customer) == ("ar", "أعد تركيب كابل الموصل J5", "اعثر على اللوحة")
        assert receive_until(expert, "participant_info")["language"] == "ar"

        # A step change: each side in its own language.
        expert.send_json({"type": "step", "action": "next"})
        english, arabic = receive_until(expert, "procedure"), receive_until(customer, "procedure")
        assert english["step_id"] == arabic["step_id"] == "find-header"
        assert english["procedure"]["steps"][1]["title"] == "Find header J5"
        assert arabic["procedure"]["steps"][1]["title"] == "اعثر على الموصل J5"
        assert arabic["procedure"]["steps"][1]["annotations"][2]["label"] == "البلورة X1"
        assert english["procedure"]["steps"][1]["annotations"][2]["label"] == "X1 crystal"

        # A language the procedure has no translation for: the main language.
        customer.send_json({"type": "set_language", "language": "ja"})
        assert procedure_with_title(customer)[0] == "en"


def test_a_rejoin_brings_the_procedure_in_the_language_of_the_new_join(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        expert.send_json({"type": "set_procedure", "procedure_id": PROCEDURE})
        with setup.client.websocket_connect("/ws") as customer:
            join_customer_in(setup, customer, "fr")
            assert procedure_with_title(customer)[:2] == ("fr", "Rebrancher le câble du connecteur J5")


def test_only_the_customer_sets_its_language_and_only_a_language_tag(setup: Setup) -> None:
    with (
        setup.client.websocket_connect("/ws", headers=setup.auth) as expert,
        setup.client.websocket_connect("/ws") as customer,
    ):
        join_expert(setup, expert)
        join_customer_in(setup, customer, "de")
        refused = error_of(answers_to(expert, '{"type": "set_language", "language": "de"}'))
        assert refused == {
            "type": "error",
            "code": "forbidden",
            "message": "only the customer may send 'set_language'",
        }
        bad = error_of(answers_to(customer, '{"type": "set_language", "language": "German!"}'))
        assert bad["code"] == "invalid_message" and bad["message"].startswith("set_language: language:")


def test_the_self_help_procedure_follows_the_browsers_language(setup: Setup) -> None:
    link = setup.client.post(f"/api/procedures/{PROCEDURE}/self-help", json={}, headers=setup.auth).json()
    url = f"/help/{link['token']}/procedure"

    def title(**kwargs: Any) -> str:
        response = setup.client.get(url, **kwargs)
        assert response.status_code == 200, response.text
        return str(response.json()["procedure"]["title"])

    assert title() == "Reseat the J5 header cable"
    assert (
        title(headers={"Accept-Language": "es-MX,es;q=0.9"}) == "Volver a conectar el cable del conector J5"
    )
    assert title(headers={"Accept-Language": "ja"}) == "Reseat the J5 header cable"
    assert title(params={"language": "hi"}, headers={"Accept-Language": "es"}) == "J5 हेडर की केबल दोबारा लगाएँ"
    bad = setup.client.get(url, params={"language": "<script>"})
    assert bad.status_code == 422
    assert "language: '<script>' is not a language tag" in bad.json()["error"]["message"]
