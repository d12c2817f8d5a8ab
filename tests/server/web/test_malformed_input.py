"""Malformed input gets a typed error, never a 500 or a close with 1011 (issue 15, finding 6).

Each case here crashed before: ``json.loads`` raising ``RecursionError`` (deep nesting) or
``ValueError`` (over 4,300 digits), aiortc failing an ``assert`` on a short candidate and an
``AttributeError`` on an offer without ``a=mid``, and answering a garbage offer with an empty
answer.
"""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.offers import browser_offer, without_line
from tests.server.web.wire import LiveSetup, answers_to, error_code, error_of, receive_until

DEEP = "[" * 100_000
LONG_NUMBER = '{"username": "erin", "password": ' + "7" * 5000 + "}"


@pytest.fixture
def live(client: TestClient, admin_token: str) -> LiveSetup:
    return LiveSetup.make(client, admin_token)


@pytest.mark.parametrize("body", [DEEP, LONG_NUMBER, '{"username": NaN, "password": "x"}'])
def test_a_body_past_the_json_limits_is_a_400_even_before_sign_in(client: TestClient, body: str) -> None:
    answer = client.post("/api/login", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"


def test_staff_routes_read_bodies_with_the_same_limits(live: LiveSetup) -> None:
    json_auth = {**live.auth, "Content-Type": "application/json"}
    for body in (DEEP, '{"title": ' + "1" * 5000 + "}", '{"title": "x", "notes": [' * 40):
        answer = live.client.post("/api/cases", content=body, headers=json_auth)
        assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 60_000,  # within 64 KiB
        '{"type": "chat", "text": ' + "[" * 30_000,
        '{"type": "chat", "text": "hi", "n": ' + "9" * 4301 + "}",
        '{"type": "pointer", "x_frame_px": 1e999, "frame_size": [640, 480]}',
    ],
)
def test_a_frame_past_the_json_limits_is_malformed_json_and_the_session_goes_on(
    live: LiveSetup, frame: str
) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        assert error_code(answers_to(customer, frame)) == "malformed_json"


@pytest.mark.parametrize("sdp", ["", "hello world", without_line(browser_offer(), "a=mid:0")])
def test_an_offer_that_cannot_be_answered_is_a_bad_offer(live: LiveSetup, sdp: str) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        assert error_code(answers_to(customer, json.dumps({"type": "offer", "sdp": sdp}))) == "bad_offer"
        answers = answers_to(customer, json.dumps({"type": "offer", "sdp": browser_offer()}))
        assert "m=video" in answers[-1]["sdp"]  # the page's next offer works


def test_a_short_candidate_after_the_answer_is_a_bad_candidate(live: LiveSetup) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        customer.send_json({"type": "offer", "sdp": browser_offer()})
        receive_until(customer, "answer")
        short = {"type": "ice", "candidate": "candidate:1 1 udp", "sdpMid": "0", "sdpMLineIndex": 0}
        answers = answers_to(customer, json.dumps(short))
        assert error_code(answers) == "bad_candidate" and "typ <type>" in error_of(answers)["message"]
