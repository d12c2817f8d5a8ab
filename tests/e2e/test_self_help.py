"""Self-help in real Chromium (docs/self-help.md): a customer on a phone runs a procedure alone from a
self-help link, with the fake camera playing the circuit board.

- A run that ends fixed: the first step completes by vision, the second by a "Done" tap, "Yes"
  closes the case as fixed_by_self_help with the last step, with one complete recording.
- A run that escalates: after vision's step the customer taps "Talk to an expert", sees their place
  in the queue; two experts have /queue open, both hear of it, one picks them up and lands in the
  console of that same live session (the customer's video, the step reached), the other is told who
  did; the session keeps one recording.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from procedures import ProcedureLibrary
from tests.clipgen import read_frame_number
from tests.e2e.conftest import (
    EXPERT_PASSWORD,
    EXPERT_USER,
    RunningServer,
    e2e_server,
    end_session,
    grab_video_frame,
    wait_until,
)
from tests.e2e.test_live_session import MAX_MEAN_ABS_DIFF, matches_clip
from tests.server_process import add_user

BOARD = "board-connector-reseat"
QUICK = "board-quick-check"
# Two steps: vision checks the first, the customer taps "Done" on the second.
QUICK_YAML = """\
id: board-quick-check
title: Check the J5 header
device: {model: "Creative PCI sound card (sample photo)", reference: board.jpg, anchor: features}
steps:
  - id: locate
    title: Find the board
    instruction: Hold the phone about 30 cm above the card until the outline turns green.
    completion: {kind: visible, duration_ms: 1000}
  - id: look-at-header
    title: Look at header J5
    instruction: Check that the plug on J5 sits flat on the board.
    annotations:
      - {kind: rect, ref_px: [[527, 152], [583, 194]], label: "J5"}
    completion: {kind: manual}
    safety: [Switch the computer off and unplug its power cord first.]
"""
SECOND_EXPERT, SECOND_PASSWORD = "ben", "a long second expert password"
PROCEDURE_STATE = "() => window.repairsight ? window.repairsight.procedure : null"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    folder = tmp_path / "procedures" / QUICK
    folder.mkdir(parents=True)
    (folder / "procedure.yaml").write_text(QUICK_YAML)
    shutil.copy(ProcedureLibrary.with_builtin([]).procedures[BOARD].folder / "board.jpg", folder)
    with e2e_server(tmp_path, "--procedures", str(tmp_path / "procedures")) as running:
        yield running


def api(server: RunningServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_token}"}, timeout=30
    )


def phone(browser: Any, errors: list[str]) -> Any:
    page = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def desktop(browser: Any, errors: list[str]) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def sign_in(page: Any, server: RunningServer, username: str, password: str, target: str) -> None:
    page.goto(f"{server.base_url}/?next={target}")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**{target}")


def customer_starts(customer: Any, url: str) -> None:
    """The customer opens the link, reads what will happen, consents and starts."""
    customer.goto(url)
    wait_until(
        lambda: "Fix it yourself:" in (customer.get_by_test_id("procedure-title").text_content() or ""),
        10,
        "the procedure's title on the intro",
    )
    customer.get_by_test_id("consent-checkbox").check()
    customer.get_by_test_id("selfhelp-start").tap()
    wait_until(
        lambda: customer.evaluate("() => document.querySelector('[data-testid=local-video]').videoWidth > 0"),
        15,
        "the customer's own camera preview",
    )


def step_title(page: Any) -> str:
    return (page.get_by_test_id("step-title").text_content() or "").strip()


def wait_recording(client: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]] | None:
        sessions = client.get(f"/api/cases/{case_id}").json()["sessions"]
        done = all(s["recording"]["status"] in ("complete", "partial") for s in sessions)
        return sessions if done else None

    return list(wait_until(finished, 30, "the recording to be finalised"))


def test_a_self_help_run_that_ends_fixed(server: RunningServer, browser: Any) -> None:
    errors: list[str] = []
    with api(server) as client:
        link = client.post(f"/api/procedures/{QUICK}/self-help", json={"label": "sticker"}).json()
        assert client.get(link["qr_svg_url"]).headers["content-type"] == "image/svg+xml"
        customer = phone(browser, errors)
        customer_starts(customer, link["url"])

        # The first step: the camera sees the board, and vision moves on by itself.
        wait_until(lambda: step_title(customer) == "Find the board", 15, "the first step")
        assert customer.get_by_test_id("step-done").is_hidden(), "no Done on a step the camera checks"
        wait_until(
            lambda: step_title(customer) == "Look at header J5", 30, "vision to complete the first step"
        )
        state = customer.evaluate(PROCEDURE_STATE)
        assert state["changed_by"] == "vision" and state["completed"] == ["locate"]
        assert "plug on J5" in (customer.get_by_test_id("step-instruction").text_content() or "")
        assert "unplug its power cord" in (customer.get_by_test_id("step-safety").text_content() or "")

        # The second step cannot be seen by the camera: the customer taps Done.
        customer.get_by_test_id("step-done").tap()
        wait_until(lambda: customer.get_by_test_id("fixed-yes").is_visible(), 10, "Did this fix it?")
        state = customer.evaluate(PROCEDURE_STATE)
        assert state["changed_by"] == "customer" and state["completed"] == ["locate", "look-at-header"]
        customer.get_by_test_id("fixed-yes").tap()
        wait_until(
            lambda: "fixed" in (customer.get_by_test_id("session-ended").text_content() or ""),
            15,
            "the page to say it is fixed",
        )

        [case] = [c for c in client.get("/api/cases").json()["cases"] if c["procedure_id"] == QUICK]
        assert (case["status"], case["outcome"], case["fixed_by_step"]) == (
            "closed",
            "fixed_by_self_help",
            "look-at-header",
        )
        [session] = wait_recording(client, case["id"])
        assert session["state"] == "ended" and session["recording"]["status"] == "complete"
        events = client.get(session["recording"]["events_url"]).text
        assert '"by": "customer"' in events or '"by":"customer"' in events
    assert errors == []


def test_an_escalated_customer_is_picked_up_by_one_expert_in_the_same_session(
    server: RunningServer, browser: Any, board_clip: Any
) -> None:
    errors: list[str] = []
    add_user(server.data_dir, SECOND_EXPERT, "expert", SECOND_PASSWORD)
    erin, ben = desktop(browser, errors), desktop(browser, errors)
    sign_in(erin, server, EXPERT_USER, EXPERT_PASSWORD, "/queue")
    sign_in(ben, server, SECOND_EXPERT, SECOND_PASSWORD, "/queue")
    for expert in (erin, ben):
        expert.get_by_test_id("queue-empty").wait_for()

    with api(server) as client:
        link = client.post(f"/api/procedures/{BOARD}/self-help", json={}).json()
        customer = phone(browser, errors)
        customer_starts(customer, link["url"])
        wait_until(lambda: step_title(customer) == "Find header J5", 30, "vision to complete the first step")

        customer.get_by_test_id("escalate-button").tap()
        place = customer.get_by_test_id("queue-position")
        wait_until(lambda: "next in the queue" in (place.text_content() or ""), 10, "the customer's place")
        assert "min to wait" in (place.text_content() or "")

        # A reload goes on with the same run: the same session, still in the queue.
        session_before = customer.evaluate("() => window.repairsight.state.sessionId")
        customer_starts(customer, link["url"])
        wait_until(
            lambda: customer.evaluate("() => window.repairsight.state.joined"), 15, "the customer to rejoin"
        )
        assert customer.evaluate("() => window.repairsight.state.sessionId") == session_before
        wait_until(
            lambda: "next in the queue" in (place.text_content() or ""), 10, "the place after a reload"
        )
        assert customer.get_by_test_id("escalate-button").is_hidden()

        # Both experts see them come in, with a sound (and a notification where allowed).
        for expert in (erin, ben):
            item = expert.get_by_test_id("queue-item")
            item.wait_for(timeout=10_000)
            assert expert.get_by_test_id("queue-step").text_content() == "Step 2 of 4: Find header J5"
            assert "Creative PCI sound card" in (item.text_content() or "")
            assert expert.get_by_test_id("queue-reason").text_content() == "Asked for an expert"
            assert "Waiting" in (expert.get_by_test_id("queue-wait").text_content() or "")
            assert expert.evaluate("() => window.repairsightQueue.alerts") == 1

        # Both press Pick up; erin is first and gets the customer, ben is told.
        erin.get_by_test_id("queue-pickup").click()
        ben.get_by_test_id("queue-pickup").click()
        erin.wait_for_url("**/console/*")
        message = ben.get_by_test_id("queue-message")
        message.wait_for()
        assert f"{EXPERT_USER} has already picked up this customer" in (message.text_content() or "")
        assert "/queue" in ben.url

        # The console is on the customer's live session: their camera, at the step they reached.
        session_id = erin.url.rsplit("/", 1)[1]
        [frame] = wait_until(
            lambda: (lambda f: [f] if f is not None and read_frame_number(f) is not None else None)(
                grab_video_frame(erin, "remote-video")
            ),
            20,
            "the customer's camera clip (its frame numbers) in the console's video",
        )
        assert frame.shape[:2] == (board_clip.truth["height"], board_clip.truth["width"])
        number, diff = matches_clip(frame, board_clip)  # its pixels, against the clip frame it carries
        assert diff < MAX_MEAN_ABS_DIFF, f"the console's picture differs from clip frame {number}: {diff:.1f}"
        state = wait_until(lambda: erin.evaluate(PROCEDURE_STATE), 10, "the procedure in the console")
        assert state["procedure"]["id"] == BOARD and state["step_id"] == "find-header"
        assert state["completed"] == ["locate"]
        wait_until(
            lambda: "Expert connected" in (customer.get_by_test_id("presence").text_content() or ""),
            15,
            "the customer to see the expert",
        )
        assert customer.get_by_test_id("queue-position").is_hidden()

        end_session(erin)
        session = client.get(f"/api/sessions/{session_id}").json()
        [only] = wait_recording(client, session["case_id"])
        assert only["id"] == session_id and only["recording"]["status"] == "complete"
    assert errors == []
