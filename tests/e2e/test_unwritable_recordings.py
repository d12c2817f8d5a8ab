"""A customer whose session cannot start because the recordings folder cannot be written (issue 15,
finding 7) is told so in words and the page stops: no endless retry against the server."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.conftest import RunningServer, wait_until
from tests.read_only_mount import read_only


def test_the_customer_is_told_and_the_page_does_not_retry(server: RunningServer, browser: Any) -> None:
    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as api:
        case = api.post("/api/cases", json={"title": "Full disk"}).json()
        made = api.post(f"/api/cases/{case['id']}/sessions").json()
    customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    errors: list[str] = []
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    sockets: list[str] = []
    customer.on("websocket", lambda ws: sockets.append(ws.url))
    with read_only(server.data_dir / "recordings"):
        customer.goto(made["customer_url"])
        customer.get_by_test_id("consent-checkbox").check()
        customer.get_by_test_id("join-button").click()
        banner = customer.get_by_test_id("session-ended")
        wait_until(lambda: banner.is_visible(), 15, "the page to say why it cannot join")
        text = banner.text_content() or ""
        # The catalog's words for the error (client_web/locales/en.json "error.storage_unavailable").
        assert "cannot save recordings" in text and "expert has been told" in text, text
        code = customer.evaluate("() => (window.repairsight.state.lastError || {}).code")
        assert code == "storage_unavailable", code
        opened = len(sockets)
        time.sleep(5.0)  # longer than the page's first reconnect delays
        assert len(sockets) == opened == 1, sockets
    assert errors == []
    assert "cannot start: its recordings folder" in server.process.log()
