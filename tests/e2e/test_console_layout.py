"""The expert console through a session as a person works it: at desk sizes the picture, the chat and
End session are on screen without scrolling; End session asks first; the badge tells how the
recording ended; the expert hears when the customer's page is taken over by another tab (a copy of
the customer's tab, which rejoins with the seat's secret while the older tab is still connected);
the marks list names steps by their titles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    RunningServer,
    customer_joins,
    draw_arrow_on_frozen_frame,
    open_console_for_new_case,
    wait_until,
)

PROCEDURE = "board-connector-reseat"
IN_VIEW = """(testid) => {
  const node = document.querySelector(`[data-testid="${testid}"]`);
  if (!node) return null;
  const box = node.getBoundingClientRect();
  const visible = box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0
    && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return visible && (top === node || node.contains(top));
}"""
PROCEDURE_STEP = (
    "() => window.repairsight && window.repairsight.procedure ? window.repairsight.procedure.step_id : null"
)


@pytest.mark.parametrize("size", [(1440, 900), (1280, 800)])
def test_chat_and_end_session_are_on_screen_and_ending_asks_first(
    server: RunningServer, browser: Any, size: tuple[int, int]
) -> None:
    width, height = size
    expert = browser.new_context(viewport={"width": width, "height": height}).new_page()
    customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    errors: list[str] = []
    for page in (expert, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    session_id, customer_url = open_console_for_new_case(expert, server, f"Layout at {width}x{height}")
    expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
    customer_joins(customer, customer_url)
    wait_until(lambda: expert.evaluate(PROCEDURE_STEP) == "find-header", 30, "vision to complete step 1")
    for index in range(12):  # a long chat must not push the controls away
        expert.get_by_test_id("chat-input").fill(f"Line {index}: hold the board a little closer please")
        expert.get_by_test_id("chat-send").click()
    wait_until(lambda: expert.get_by_test_id("chat-log").locator("li").count() >= 12, 10, "the chat echoes")
    draw_arrow_on_frozen_frame(expert, (80.0, 380.0), (220.0, 300.0))
    for testid in ("remote-video", "chat-input", "chat-send", "end-session", "procedure-select", "step-next"):
        assert expert.evaluate(IN_VIEW, testid), f"{testid} is not on screen at {width}x{height}"
    assert expert.evaluate("() => window.scrollY") == 0

    # The marks list names the step by its title, not its id.
    mark = expert.get_by_test_id("annotation-item").first.text_content() or ""
    assert "Find header J5" in mark and "find-header" not in mark, mark

    # A duplicate of the customer's tab (the browser copies its sessionStorage, with the seat's
    # resume secret) takes the customer's page over while the older tab is still connected: the
    # expert is told, and the older tab says so and stops. (A reload is not a takeover, and another
    # browser with the link is kept out: tests/e2e/test_reconnect.py.)
    second = customer.context.new_page()
    stored = customer.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
    second.add_init_script(f"for (const [k, v] of {stored}) sessionStorage.setItem(k, v);")
    second.goto(customer_url)
    second.get_by_test_id("rejoin-recorded").click()
    wait_until(
        lambda: "another tab" in (expert.get_by_test_id("notices").text_content() or ""),
        10,
        "the expert to hear of the takeover",
    )
    wait_until(lambda: customer.get_by_test_id("session-ended").is_visible(), 10, "the older tab to stop")
    wait_until(
        lambda: second.evaluate("() => document.querySelector('[data-testid=local-video]').videoWidth > 0"),
        15,
        "the new tab's camera",
    )

    # End session asks first: "Keep going" keeps the call, "End session" ends it.
    expert.get_by_test_id("end-session").click()
    assert expert.get_by_test_id("end-dialog").is_visible()
    expert.get_by_test_id("end-session-cancel").click()
    assert not expert.get_by_test_id("end-dialog").is_visible()
    assert not second.get_by_test_id("session-ended").is_visible()
    expert.get_by_test_id("end-session").click()
    expert.get_by_test_id("end-session-confirm").click()
    wait_until(lambda: second.get_by_test_id("session-ended").is_visible(), 15, "the end at the customer")
    wait_until(lambda: expert.get_by_test_id("session-ended").is_visible(), 15, "the end at the expert")
    # The badge no longer says "Recording": it says what became of it.
    for page in (expert, second):
        badge = page.get_by_test_id("recording-badge")
        wait_until(lambda b=badge: b.get_attribute("data-status") == "complete", 10, "the final badge")
        assert badge.text_content() == "Recording saved"
    assert errors == [], errors
