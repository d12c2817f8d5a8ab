"""The customer link is shown once (issue 15, finding 10): the database keeps only its hash, so only
the answer that made the session carries it. The tab that started the session keeps it for the
console it opens; any other tab says plainly why it cannot show it, and what to do."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RunningServer, open_console_for_new_case


def test_the_console_shows_the_link_it_was_given_and_no_other_tab_can(
    server: RunningServer, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    expert = context.new_page()
    errors: list[str] = []
    expert.on("pageerror", lambda exc: errors.append(str(exc)))
    session_id, customer_url = open_console_for_new_case(expert, server, "Shown once")

    invite = expert.locator("#invite-link")
    invite.get_by_test_id("customer-link").wait_for()
    assert (invite.get_by_test_id("customer-link").text_content() or "").strip() == customer_url
    qr = invite.locator("img.qr").get_attribute("src") or ""
    assert qr.startswith("data:image/svg+xml;base64,")

    other_tab = context.new_page()
    other_tab.on("pageerror", lambda exc: errors.append(str(exc)))
    other_tab.goto(f"{server.base_url}/console/{session_id}")
    note = other_tab.get_by_test_id("link-not-kept")
    note.wait_for()
    assert "end this session and start a new one" in (note.text_content() or "")
    assert other_tab.get_by_test_id("customer-link").count() == 0
    token = customer_url.rsplit("/", 1)[1]
    assert token not in other_tab.content()
    assert errors == []
