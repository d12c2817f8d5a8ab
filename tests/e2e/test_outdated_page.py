"""A page of an older protocol version (a tab left open across an upgrade, a cached script) is told
to reload, in words on the page, and stops; the current page of the same session joins as usual.

The old page is the real page with its ``signaling.js`` served as an older one would be: the
version number lowered (the console), or no version at all (the customer's, as before versions).
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RunningServer, customer_joins, open_console_for_new_case, wait_until

OUTDATED_TEXT = "This page is out of date; reload it to continue."


def serve_old_signaling(context: Any, server: RunningServer, change: tuple[str, str]) -> None:
    """Serve this context's ``/static/js/signaling.js`` with ``change`` made to it."""
    import httpx

    current = httpx.get(f"{server.base_url}/static/js/signaling.js").text
    old, new = change
    assert old in current
    script = current.replace(old, new)
    context.route(
        "**/static/js/signaling.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=script),
    )


def test_an_old_console_and_an_old_customer_page_are_told_to_reload(
    server: RunningServer, browser: Any
) -> None:
    old_expert = browser.new_context(viewport={"width": 1280, "height": 800})
    version = "export const PROTOCOL_VERSION = "
    serve_old_signaling(old_expert, server, (version + "1;", version + "0;"))
    expert = old_expert.new_page()
    errors: list[str] = []
    expert.on("pageerror", lambda exc: errors.append(str(exc)))
    session_id, customer_url = open_console_for_new_case(expert, server, "Old tab")
    banner = expert.get_by_test_id("session-ended")
    wait_until(lambda: banner.is_visible(), 15, "the old console to say it is out of date")
    assert OUTDATED_TEXT in (banner.text_content() or "")

    # The customer's page from before versions (its joins carry none).
    old_customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    serve_old_signaling(old_customer, server, (", version: PROTOCOL_VERSION", ""))
    customer = old_customer.new_page()
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    customer.goto(customer_url)
    customer.get_by_test_id("consent-checkbox").check()
    customer.get_by_test_id("join-button").click()
    customer_banner = customer.get_by_test_id("session-ended")
    wait_until(lambda: customer_banner.is_visible(), 15, "the old customer page to say it is out of date")
    assert OUTDATED_TEXT in (customer_banner.text_content() or "")

    # Reloaded (the current script), both join the same session.
    current = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    current.on("pageerror", lambda exc: errors.append(str(exc)))
    current.context.add_cookies(old_expert.cookies())
    current.goto(f"{server.base_url}/console/{session_id}")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    customer_joins(phone, customer_url)
    presence = current.get_by_test_id("presence")
    wait_until(lambda: "joined" in (presence.text_content() or "").lower(), 20, "the customer in the call")
    assert not current.get_by_test_id("session-ended").is_visible()
    assert errors == [], errors
