"""``/api/docs`` in a real browser: the API document drawn by the server's own script, with every
request to this server only (it must work on a network without internet)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import RunningServer, wait_until


def test_the_api_docs_page_shows_the_document_from_this_server_alone(
    server: RunningServer, browser: Any
) -> None:
    page = browser.new_context().new_page()
    hosts: set[str] = set()
    errors: list[str] = []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base_url + "/api/docs")
    operations = page.locator("#api-operations section")
    wait_until(lambda: operations.count() > 20, 10, "the operations to be drawn")
    text = page.locator("main").inner_text()
    assert "POST /api/v1/cases" in text and "CaseCreate" in text and "SessionAnswer" in text
    # A link from an answer to its schema's description works.
    page.locator("#op-post--api-v1-cases a[href='#schema-CaseCreated']").first.click()
    assert page.locator("#schema-CaseCreated").is_visible()
    assert hosts == {urlsplit(server.base_url).netloc}, hosts
    assert errors == [], errors
