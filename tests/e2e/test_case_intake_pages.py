"""A case opened by an integration through the API, in real Chromium: the case page says who opened
it and the integration's reference, and the dashboard shows the self-help run made from its link."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import EXPERT_PASSWORD, EXPERT_USER, RunningServer, wait_until

BOARD = "board-connector-reseat"


def test_the_case_page_and_dashboard_show_an_integrations_case(server: RunningServer, browser: Any) -> None:
    api = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_token}"}, timeout=30
    )
    body = {
        "title": "Board does not start",
        "external_reference": "ZD-1042",
        "procedure_id": BOARD,
        "link": "self_help",
    }
    made = api.post("/api/cases", json=body, headers={"Idempotency-Key": "zd-1042"})
    assert made.status_code == 201, made.text
    case = made.json()
    token = case["link"]["url"].rsplit("/", 1)[1]
    run = httpx.post(f"{server.base_url}/help/{token}/runs", json={}, timeout=30)
    assert run.status_code == 201, run.text
    join = run.json()["join_token"]
    escalated = httpx.post(
        f"{server.base_url}/join/{join}/self-help/escalate", json={"reason": "asked"}, timeout=30
    )
    assert escalated.status_code == 200, escalated.text

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base_url + "/")
    page.get_by_test_id("login-username").fill(EXPERT_USER)
    page.get_by_test_id("login-password").fill(EXPERT_PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("user-name").wait_for()

    page.goto(f"{server.base_url}/cases/{case['id']}")
    source = page.get_by_test_id("case-source")
    wait_until(lambda: source.text_content(), 10, "the case page's source")
    assert source.text_content() == "An integration, through the API, reference ZD-1042"

    page.goto(f"{server.base_url}/dashboard")
    card = page.locator(f"[data-testid=analytics-procedure][data-procedure-id={BOARD}]")
    card.wait_for()
    assert card.get_by_test_id("self-help-runs").locator(".value").text_content() == "1"
    assert card.get_by_test_id("self-help-escalated").locator(".value").text_content() == "100%"
    assert card.get_by_test_id("self-resolved").locator(".value").text_content() == "0%"
    assert card.get_by_test_id("self-help-stuck").count() == 1
    assert errors == []
