"""Playback of a recorded AR session in Chromium, signed in as a trainer.

A real server records a session driven by synthetic aiortc participants over /ws: the customer
sends the board clip (so vision finds the board and `ar` summaries are logged), the expert picks
board-connector-reseat, vision completes the first step, the expert draws an anchored arrow and
moves on a step, then ends the session. The trainer opens /playback/<id>, clicks the chapter of
step 2 and we check that the video lands at that step's time (the WebM's clock is the event
log's clock: no offset), that it plays, and that the step's marks and the expert's arrow are
drawn on the overlay where the event log's homography puts them, and nowhere once hidden.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from tests.e2e.conftest import RunningServer, overlay_alpha_js, wait_until
from tests.server_process import REPO
from tests.synthetic_peers import board_camera
from tests.ws_participants import Participant, join_as_customer, join_as_expert, link_token, new_session

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


def project(h: list[list[float]], point: tuple[float, float]) -> tuple[float, float]:
    x, y, w = np.array(h) @ np.array([point[0], point[1], 1.0])
    return float(x / w), float(y / w)


def ar_at(track: list[dict[str, Any]], t_ms: float) -> dict[str, Any]:
    """The AR summary the player uses at t: the newest at or before it."""
    before = [a for a in track if a["t_ms"] <= t_ms]
    assert before, f"no AR summary before {t_ms} ms"
    ar = before[-1]
    assert ar["found"] and ar["homography"] and t_ms - ar["t_ms"] <= 1000, (
        f"board not located at {t_ms} ms: {ar}"
    )
    return ar


async def wait_step(expert: Participant, step_id: str, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while (await expert.next_of("procedure", timeout_s))["step_id"] != step_id:
            pass


async def record_session(server: RunningServer) -> str:
    session = new_session(server.base_url, server.api_token, "Sound card crackles")
    frames = [frame.bgr for frame in board_camera(num_frames=60).frames()]
    latest: dict[str, Any] = {}
    expert = await join_as_expert(server.base_url, session["id"], server.api_token, found_ar_state=latest)
    await expert.socket.send(json.dumps({"type": "set_procedure", "procedure_id": PROCEDURE}))
    customer = await join_as_customer(server.base_url, link_token(session), frames)
    try:
        await expert.socket.send(json.dumps({"type": "chat", "text": "Hold it over the board please"}))
        # Vision finds the board and completes the "visible" first step by itself: step 2.
        await wait_step(expert, "find-header", 25)
        async with asyncio.timeout(10):
            while not latest:
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        state = dict(latest)
        h = state["homography"]
        points = [project(h, p) for p in ARROW_REF]
        await expert.socket.send(
            json.dumps(
                {
                    "type": "annotate",
                    "shape": "arrow",
                    "points_frame_px": [list(p) for p in points],
                    "frame_timestamp_ms": state["timestamp_ms"],
                    "frame_size": state["frame_size"],
                }
            )
        )
        added = await expert.next_of("annotation_added", 10)
        assert added["annotation"]["anchored"], f"the mark was not anchored: {added}"
        await asyncio.sleep(2.0)
        await expert.socket.send(json.dumps({"type": "step", "action": "next"}))
        await wait_step(expert, "press", 10)
        await asyncio.sleep(1.5)
        await expert.socket.send(json.dumps({"type": "end_session"}))
        await expert.next_of("session_ended", 15)
    finally:
        await customer.close()
        await expert.close()
    return str(session["id"])


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
    server: RunningServer, browser: Any
) -> None:
    # Playwright's sync API runs an event loop in this thread: the participants get their own.
    with ThreadPoolExecutor(1) as pool:
        session_id = pool.submit(asyncio.run, record_session(server)).result(timeout=90)
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
