"""Playback of a recorded AR session in Chromium, signed in as a trainer.

A real server records a session driven as in the live session tests, by two Chromium pages: the
customer's fake camera plays the board clip (so vision finds the board and `ar` summaries are
logged), the expert picks board-connector-reseat, vision completes the first step, the expert
freezes the frame, draws an anchored arrow with the mouse, moves on a step, then ends the
session. The trainer opens /playback/<id>, clicks the chapter of step 2 and we check that the
video lands at that step's time (the WebM's clock is the event log's clock: no offset), that it
plays, and that the step's marks and the expert's arrow are drawn on the overlay where the event
log's homography puts them, and nowhere once hidden.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np

from server.recordings.outline import DeviceTrack
from server.recordings.timeline import ArSummary
from tests.e2e.conftest import (
    RunningServer,
    TwoPages,
    customer_joins,
    draw_arrow_on_frozen_frame,
    end_session,
    open_console_for_new_case,
    overlay_alpha_js,
    project,
    wait_until,
)
from tests.server_process import REPO

PROCEDURE = "board-connector-reseat"
TRAINER, TRAINER_PASSWORD = "tina", "a long trainer password"
SEEK_TOLERANCE_S = 0.5
# The arrow in reference px of board.jpg (640x480): lower left, clear of step 2's marks and labels.
ARROW_REF = ((80.0, 380.0), (220.0, 300.0))

ALPHA_AT = overlay_alpha_js("playback-overlay", "playback-video")
PAUSED_AND_DRAWN = """() => new Promise((resolve) => {
  const video = document.querySelector('[data-testid="playback-video"]');
  video.pause();
  const done = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(video.currentTime)));
  if (video.seeking) video.addEventListener('seeked', done, { once: true }); else done();
})"""
SEEK_PAUSED = """(seconds) => new Promise((resolve) => {
  const video = document.querySelector('[data-testid="playback-video"]');
  video.pause();
  video.addEventListener('seeked', () => requestAnimationFrame(() => requestAnimationFrame(
    () => resolve(video.currentTime))), { once: true });
  location.hash = `#t=${seconds}`;
})"""


def ar_at(track: list[dict[str, Any]], t_ms: float) -> dict[str, Any]:
    """Where the player puts the device at t: the rule of ``server/recordings/outline.py``, which the
    player's ``outline.js`` follows (the newest summary at or before t, interpolated towards the next)."""
    summaries = [
        ArSummary(a["t_ms"], a["found"], a["homography"], tuple(a["frame_size"]), a["step_id"])  # type: ignore[arg-type]
        for a in track
    ]
    place = DeviceTrack(summaries).place_at(t_ms)
    assert place is not None, f"board not located at {t_ms} ms"
    return {"homography": place.homography.tolist(), "frame_size": list(place.frame_size)}


PROCEDURE_STEP = (
    "() => window.repairsight && window.repairsight.procedure ? window.repairsight.procedure.step_id : null"
)


def record_session(server: RunningServer, pages: TwoPages) -> str:
    """The session a trainer will replay, recorded through the real pages."""
    expert, customer = pages.expert, pages.customer
    session_id, customer_url = open_console_for_new_case(expert, server, "Sound card crackles")
    expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
    customer_joins(customer, customer_url)
    expert.get_by_test_id("chat-input").fill("Hold it over the board please")
    expert.get_by_test_id("chat-send").click()
    # Vision finds the board and completes the "visible" first step by itself: step 2.
    wait_until(lambda: expert.evaluate(PROCEDURE_STEP) == "find-header", 30, "vision to complete step 1")
    time.sleep(1.0)
    draw_arrow_on_frozen_frame(expert, *ARROW_REF)
    marks = wait_until(
        lambda: expert.evaluate("() => window.repairsight.annotations") or None, 10, "the mark"
    )
    assert marks[-1]["anchored"], f"the mark was not anchored: {marks[-1]}"
    time.sleep(2.0)
    expert.get_by_test_id("step-next").click()
    wait_until(lambda: expert.evaluate(PROCEDURE_STEP) == "press", 10, "step 3")
    time.sleep(1.5)
    end_session(expert)
    wait_until(lambda: customer.get_by_test_id("session-ended").is_visible(), 10, "the end at the customer")
    assert pages.errors == []
    return session_id


def add_trainer(server: RunningServer) -> None:
    subprocess.run(
        [sys.executable, "-m", "server.cli", "user", "add", TRAINER, "--role", "trainer", "--password-stdin"]
        + ["--data-dir", str(server.data_dir)],
        input=TRAINER_PASSWORD,
        text=True,
        cwd=REPO,
        check=True,
        capture_output=True,
    )


def test_trainer_jumps_to_a_step_and_sees_the_ar_layer_from_the_log(
    server: RunningServer, browser: Any, pages: TwoPages
) -> None:
    session_id = record_session(server, pages)
    add_trainer(server)
    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
        data = api.get(f"/api/sessions/{session_id}/playback").json()
    assert data["recording"]["status"] == "complete", data["recording"]
    chapter = next(c for c in data["chapters"] if c["step_id"] == "find-header")
    arrow = next(m for m in data["marks"] if m["shape"] == "arrow")

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.goto(f"{server.base_url}/playback/{session_id}")
    page.get_by_test_id("login-username").fill(TRAINER)
    page.get_by_test_id("login-password").fill(TRAINER_PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**/playback/{session_id}")
    wait_until(
        lambda: page.evaluate("() => document.querySelector('[data-testid=playback-video]').readyState >= 1"),
        10,
        "the recording's metadata",
    )
    items = page.get_by_test_id("chapter-item")
    assert [items.nth(i).get_attribute("data-step-id") for i in range(items.count())] == [
        c["step_id"] for c in data["chapters"]
    ]

    # Jump to step 2: the video lands at its step_changed time and plays.
    page.locator('[data-testid="chapter-item"][data-step-id="find-header"]').click()
    jump = wait_until(
        lambda: (lambda j: j if j and j["playing_after_ms"] is not None else None)(
            page.evaluate("() => window.repairsight.playback.jumps.at(-1)")
        ),
        5,
        "playback to start after the jump",
    )
    print(
        f"jump to step 2 at {chapter['t_ms'] / 1000:.3f} s: first frame playing after "
        f"{jump['playing_after_ms']} ms, at media time {jump['media_time_s']:.3f} s"
    )
    assert abs(jump["media_time_s"] - chapter["t_ms"] / 1000) < SEEK_TOLERANCE_S
    assert page.evaluate("() => window.repairsight.playback.currentChapter.step_id") == "find-header"
    assert page.locator('[data-testid="chapter-item"][aria-current="true"]').get_attribute(
        "data-step-id"
    ) == ("find-header")

    # Paused where it is: the step's marks are drawn where the log's homography puts them.
    now_s = page.evaluate(PAUSED_AND_DRAWN)
    assert now_s * 1000 < arrow["added_t_ms"], "the video ran past the arrow; the step takes too little time"
    ar = ar_at(data["ar"], now_s * 1000)
    j5 = np.array([project(ar["homography"], p) for p in [(527, 152), (583, 152), (583, 194), (527, 194)]])
    j5_edges = ((j5 + np.roll(j5, -1, axis=0)) / 2).tolist()
    alphas = page.evaluate(ALPHA_AT, [j5_edges, ar["frame_size"]])
    assert min(alphas) > 0, f"the J5 rectangle of step 2 is not drawn where the log puts it: {alphas}"

    # Where the expert's arrow is alive, it is drawn at its reference points through that homography.
    seconds = (arrow["added_t_ms"] + 700) / 1000
    now_s = page.evaluate(SEEK_PAUSED, seconds)
    assert abs(now_s - seconds) < SEEK_TOLERANCE_S
    ar = ar_at(data["ar"], now_s * 1000)
    start, end = (project(ar["homography"], tuple(p)) for p in arrow["points_ref_px"])
    shaft = [start, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)]
    assert min(page.evaluate(ALPHA_AT, [shaft, ar["frame_size"]])) > 0, "the expert's arrow is not drawn"
    # Hiding the expert's marks takes the arrow away; hiding the whole layer clears the J5 marks too.
    page.get_by_test_id("layer-marks").uncheck()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert max(page.evaluate(ALPHA_AT, [shaft, ar["frame_size"]])) == 0, "hidden marks are still drawn"
    page.get_by_test_id("layer-annotations").uncheck()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    j5 = np.array([project(ar["homography"], p) for p in [(527, 152), (583, 152), (583, 194), (527, 194)]])
    assert max(page.evaluate(ALPHA_AT, [j5.tolist(), ar["frame_size"]])) == 0, "a hidden layer is still drawn"

    # The seek bar has a marker where each step begins; clicking one jumps there.
    markers = page.get_by_test_id("seek-marker")
    steps = [c for c in data["chapters"] if c["step_id"]]
    assert markers.count() == len(steps)
    page.locator('[data-testid="seek-marker"][data-step-id="press"]').click()
    press = next(c for c in steps if c["step_id"] == "press")
    wait_until(
        lambda: (
            abs(
                page.evaluate("() => document.querySelector('[data-testid=playback-video]').currentTime")
                - press["t_ms"] / 1000
            )
            < SEEK_TOLERANCE_S
        ),
        5,
        "the jump from the seek bar's marker",
    )
    # After a layer toggle was clicked (it has the focus now), the shortcuts still work.
    page.get_by_test_id("layer-annotations").check()
    page.evaluate("() => document.querySelector('[data-testid=playback-video]').pause()")
    page.keyboard.press("[")
    wait_until(
        lambda: page.evaluate("() => window.repairsight.playback.currentChapter.step_id") == "find-header",
        5,
        "[ to go back a step with the focus on a checkbox",
    )
    assert page.get_by_test_id("layer-annotations").is_checked()
    page.evaluate("() => document.querySelector('[data-testid=playback-video]').pause()")  # the jump plays
    page.keyboard.press("Space")
    wait_until(
        lambda: not page.evaluate("() => document.querySelector('[data-testid=playback-video]').paused"),
        5,
        "Space to play with the focus on a checkbox",
    )
    assert page.get_by_test_id("layer-annotations").is_checked(), "Space toggled the checkbox instead"

    # The chat is in the transcript, and the page raised no error.
    assert "Hold it over the board please" in page.get_by_test_id("chat-transcript").text_content()

    # The case record lists the session with its Play link, steps and chat (collapsed).
    page.goto(f"{server.base_url}/cases/{data['case']['id']}")
    page.get_by_test_id("play-recording").wait_for()
    assert page.get_by_test_id("play-recording").get_attribute("href") == f"/playback/{session_id}"
    assert "Find header J5" in page.get_by_test_id("session-steps").text_content()
    page.get_by_test_id("session-chat").locator("summary").click()
    assert "Hold it over the board please" in page.get_by_test_id("session-chat").text_content()
    assert page_errors == []
