"""A browser that cannot make the call: Chromium with its WebRTC taken away before the page runs
(``RTCPeerConnection`` undefined, as in a WebKit build without it). The customer is told plainly
what failed and what to try, before any consent; the expert's console shows the customer's browser
and what keeps it out; the case records it."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RunningServer, end_session, open_console_for_new_case, wait_until

NO_WEBRTC = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"


def test_a_browser_without_webrtc_is_told_plainly_and_the_expert_and_case_know(
    server: RunningServer, browser: Any
) -> None:
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_init_script(NO_WEBRTC)
    customer = context.new_page()
    errors: list[str] = []
    for page in (expert, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    session_id, customer_url = open_console_for_new_case(expert, server, "An old phone")

    customer.goto(customer_url)
    status = customer.get_by_test_id("customer-status")
    status.wait_for()
    text = status.text_content() or ""
    assert "cannot make video calls" in text and "another browser" in text and "update" in text, text
    assert not customer.get_by_test_id("consent-checkbox").is_visible()
    assert not customer.get_by_test_id("join-button").is_visible()

    problem = expert.get_by_test_id("customer-problem")
    wait_until(lambda: problem.is_visible(), 10, "the expert to hear what keeps the customer out")
    assert "cannot make video calls" in (problem.text_content() or "")
    assert (expert.get_by_test_id("customer-browser").text_content() or "").startswith(
        "Customer's browser: Chrome"
    )

    end_session(expert)
    case_id = expert.evaluate(
        f"() => fetch('/api/sessions/{session_id}').then((r) => r.json()).then((s) => s.case_id)"
    )
    expert.goto(f"{server.base_url}/cases/{case_id}")
    problems = expert.get_by_test_id("session-problems")
    problems.wait_for()
    assert "cannot make video calls" in (problems.text_content() or "")
    assert "Chrome" in (problems.text_content() or "")
    assert errors == [], errors
