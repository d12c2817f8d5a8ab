"""The customer's ``link_quality`` reports reach the expert (its "weak connection" sign); wrong ones
get a clear error and the session goes on (docs/protocol.md, ``link_quality``)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.live.link import LINK_REPORT_BURST, LINK_REPORTS_PER_S
from tests.server.web.wire import LiveSetup, answers_to, error_code, error_of, receive_until

WEAK = {
    "type": "link_quality",
    "weak": True,
    "level": 3,
    "sent_kbps": 131,
    "video_fps": 9.5,
    "video_width": 320,
    "video_height": 240,
    "loss_pct": 4.2,
    "rtt_ms": 412,
}


@pytest.fixture
def live(client: TestClient, admin_token: str) -> LiveSetup:
    return LiveSetup.make(client, admin_token)


def reports_and_errors(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in answers if message["type"] in ("link_quality", "error")]


def report(**changes: Any) -> str:
    return json.dumps({**WEAK, **changes})


def test_the_customers_report_reaches_the_expert_and_a_late_expert_gets_the_last(live: LiveSetup) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        assert not reports_and_errors(answers_to(customer, report()))  # no echo to the page, no error
        with live.client.websocket_connect("/ws", headers=live.auth) as expert:
            live.join_expert(expert)
            # Joined after the report: the last one, still recent, comes with the join.
            assert receive_until(expert, "link_quality") == {**WEAK, "role": "customer"}
            answers_to(customer, report(weak=False, level=0, loss_pct=0.0, video_width=640, video_height=480))
            good = receive_until(expert, "link_quality")
            assert good["weak"] is False and good["level"] == 0 and good["video_width"] == 640


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"level": -1}, "level"),
        ({"level": 10}, "level"),
        ({"loss_pct": 101}, "loss_pct"),
        ({"video_fps": "fast"}, "video_fps"),
        ({"sent_kbps": -5}, "sent_kbps"),
        ({"weak": None}, "weak"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_report_is_refused_with_what_was_wrong(
    live: LiveSetup, changes: dict[str, Any], where: str
) -> None:
    with live.client.websocket_connect("/ws") as customer:
        live.join_customer(customer)
        answers = answers_to(customer, report(**changes))
        assert error_code(answers) == "invalid_message"
        assert error_of(answers)["message"].startswith(f"link_quality: {where}")
        assert not reports_and_errors(answers_to(customer, report()))  # the session goes on


def test_only_the_customer_reports_its_link_and_at_most_about_once_a_second(live: LiveSetup) -> None:
    with (
        live.client.websocket_connect("/ws") as customer,
        live.client.websocket_connect("/ws", headers=live.auth) as expert,
    ):
        live.join_customer(customer)
        live.join_expert(expert)
        refused = answers_to(expert, report())
        assert error_code(refused) == "forbidden" and "customer" in error_of(refused)["message"]
        started = time.monotonic()
        accepted = 0
        while not error_code(answers := answers_to(customer, report())) and accepted < 50:
            accepted += 1
        elapsed_s = time.monotonic() - started
        assert error_code(answers) == "link_quality_rate_limited"
        assert "reports a second" in error_of(answers)["message"]
        assert LINK_REPORT_BURST <= accepted <= LINK_REPORT_BURST + LINK_REPORTS_PER_S * elapsed_s + 1
        heard = [m for m in answers_to(expert, json.dumps({"type": "ping"})) if m["type"] == "link_quality"]
        assert len(heard) == accepted
