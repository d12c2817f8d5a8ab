"""AR starts every time: the expert picks the procedure a couple of seconds after the customer joined
(as the first shift did, when 1 session in 4 stayed on "No AR data yet" for over 25 s), six sessions
in a row on one server, and the console must show the device located within seconds each time."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import (
    RunningServer,
    customer_joins,
    end_session,
    open_console_for_new_case,
    wait_until,
)

PROCEDURE = "board-connector-reseat"
SESSIONS = 6
AR_FOUND = "() => Boolean(window.repairsight && window.repairsight.ar?.last?.found)"
JOINED = "() => window.repairsight.state.joined"
AR_START_LIMIT_S = 5.0  # 7 to 10 s before the fix (the phone ignored PLIs naming its RTX SSRC)


def test_ar_starts_when_the_procedure_is_picked_after_the_customer_joined(
    server: RunningServer, browser: Any
) -> None:
    started_after: list[float] = []
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    for index in range(SESSIONS):
        customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        if index == 0:
            session_id, customer_url = open_console_for_new_case(expert, server, f"AR start {index}")
        else:
            expert.goto(server.base_url + "/")
            expert.get_by_test_id("case-title").fill(f"AR start {index}")
            expert.get_by_test_id("create-case").click()
            expert.get_by_test_id("start-session").click()
            customer_url = (expert.get_by_test_id("customer-link").text_content() or "").strip()
            expert.get_by_test_id("open-console").click()
            expert.wait_for_url("**/console/*")
        customer_joins(customer, customer_url)
        wait_until(lambda: expert.evaluate(JOINED), 10, "the console to join")
        time.sleep(2.0 + 0.3 * index)  # a human's pause, a little different each time
        picked = time.monotonic()
        expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
        wait_until(lambda: expert.evaluate(AR_FOUND), 30, f"AR in session {index}")
        started_after.append(time.monotonic() - picked)
        end_session(expert)
        wait_until(lambda c=customer: c.get_by_test_id("session-ended").is_visible(), 15, "the end")
        customer.context.close()
    print("AR located after picking the procedure (s):", ", ".join(f"{s:.2f}" for s in started_after))
    assert max(started_after) < AR_START_LIMIT_S, started_after
