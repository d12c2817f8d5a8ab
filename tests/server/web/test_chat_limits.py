"""Chat is limited in size and rate, per participant (issue 15, finding 8): 6,000 lines of 2 KB
from one customer grew the event log by 12.7 MB in 32 s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from signaling.messages import MAX_CHAT_CHARS
from signaling.rate import CHAT_BURST_LINES
from tests.server.web.wire import LiveSetup, answers_to, error_code, error_of


@pytest.fixture
def live(client: TestClient, admin_token: str) -> LiveSetup:
    return LiveSetup.make(client, admin_token)


def chat(text: str) -> str:
    return json.dumps({"type": "chat", "text": text})


def chat_heard(answers: list[dict[str, Any]]) -> list[str]:
    return [message["text"] for message in answers if message["type"] == "chat"]


def test_a_line_over_the_limit_is_refused_with_its_own_code(live: LiveSetup) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        answers = answers_to(customer, chat("x" * (MAX_CHAT_CHARS + 1)))
        assert error_code(answers) == "chat_too_long"
        assert f"{MAX_CHAT_CHARS + 1} characters" in error_of(answers)["message"]
        assert chat_heard(answers_to(customer, chat("x" * MAX_CHAT_CHARS))) == ["x" * MAX_CHAT_CHARS]


def test_a_burst_of_lines_is_cut_off_and_the_rest_never_reach_the_other_side(live: LiveSetup) -> None:
    with (
        live.client.websocket_connect("/ws") as customer,
        live.client.websocket_connect("/ws", headers=live.auth) as expert,
    ):
        live.join_customer(customer)
        live.join_expert(expert)
        for n in range(CHAT_BURST_LINES):
            assert chat_heard(answers_to(customer, chat(f"line {n}"))) == [f"line {n}"]
        refused = answers_to(customer, chat("one too many"))
        assert error_code(refused) == "chat_rate_limited"
        assert "wait 1 s" in error_of(refused)["message"]
        # The expert's allowance is its own; of the customer's lines it heard the first ten only.
        heard = chat_heard(answers_to(expert, chat("Slow down, please")))
        assert heard == [f"line {n}" for n in range(CHAT_BURST_LINES)] + ["Slow down, please"]


def test_a_new_socket_does_not_refill_the_allowance(live: LiveSetup) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        for n in range(CHAT_BURST_LINES):
            answers_to(customer, chat(f"line {n}"))
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        assert error_code(answers_to(customer, chat("from a new tab"))) == "chat_rate_limited"
