"""The demo customer in real Chromium: only the expert's page, no customer browser at all.

The expert clicks "Try with a sample" on the console home; the console opens on a session whose
customer is the server itself playing a sample clip of the board (``server/live/demo/``). The
console shows that video (its pixels are the clip's), vision locates the board and the overlay is
drawn on it, the first step completes by vision, and after the expert ends the session the
recording exists and plays.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from procedures import ProcedureLibrary
from server.live.demo.clip import DemoClip
from tests.e2e.conftest import (
    EXPERT_PASSWORD,
    EXPERT_USER,
    RunningServer,
    end_session,
    grab_video_frame,
    overlay_alpha_js,
    wait_until,
)

PROCEDURE = "board-connector-reseat"
# Vision runs on the demo's VP8 at the server; the clip's truth is exact.
OUTLINE_TOLERANCE_PX = 4.0
# Mean absolute difference of a shown frame from the nearest clip frame (VP8 at 500 kbps and more).
PIXEL_TOLERANCE = 12.0

AR_LAST = "() => window.repairsight && window.repairsight.ar ? window.repairsight.ar.last : null"
PROCEDURE_STATE = "() => window.repairsight ? window.repairsight.procedure : null"
VIDEO_WIDTH = (
    "() => { const v = document.querySelector('[data-testid=remote-video]'); return v ? v.videoWidth : 0; }"
)
OVERLAY_ALPHA_AT = (
    "() => { const ar = window.repairsight.ar.drawn; const quad = ar.outline_frame_px;"
    " const mid = (p, q) => [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];"
    " const points = quad.map((p, i) => mid(p, quad[(i + 1) % 4]));"
    f" return ({overlay_alpha_js('overlay-canvas', 'remote-video')})([points, ar.frame_size]); }}"
)
PLAYBACK_DURATION = (
    "() => { const v = document.querySelector('[data-testid=playback-video]');"
    " return v && v.readyState >= 1 ? v.duration : null; }"
)


def demo_clip() -> DemoClip:
    procedure = ProcedureLibrary.with_builtin().get(PROCEDURE)
    assert procedure is not None
    return DemoClip(procedure.reference_bgr())


def true_corners(clip: DemoClip) -> list[np.ndarray]:
    w, h = clip.reference_size_px
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], np.float64).T
    found = []
    for index in range(clip.period_frames):
        projected = clip.homography(index) @ corners
        found.append((projected[:2] / projected[2]).T)
    return found


def test_the_demo_customer_shows_ar_on_the_console_with_no_customer_browser(
    server: RunningServer, browser: Any
) -> None:
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page_errors: list[str] = []
    expert.on("pageerror", lambda exc: page_errors.append(str(exc)))
    expert.goto(server.base_url + "/")
    expert.get_by_test_id("login-username").fill(EXPERT_USER)
    expert.get_by_test_id("login-password").fill(EXPERT_PASSWORD)
    expert.get_by_test_id("login-submit").click()
    expert.get_by_test_id("demo-procedure").select_option(PROCEDURE)
    expert.get_by_test_id("demo-start").click()
    expert.wait_for_url("**/console/*")
    session_id = expert.url.rsplit("/", 1)[1]
    assert len(browser.contexts) == 1, "a customer page was opened"

    # The console plays the demo's video: the clip's pixels, at the clip's size.
    wait_until(lambda: expert.evaluate(VIDEO_WIDTH) == 640, 20, "the demo customer's video on the console")
    clip = demo_clip()
    shown = wait_until(lambda: [grab_video_frame(expert, "remote-video")], 10, "a frame of the video")[0]
    assert shown is not None
    nearest = min(
        float(np.abs(shown.astype(np.int16) - clip.frame(i).astype(np.int16)).mean())
        for i in range(clip.period_frames)
    )
    print(f"console video vs the nearest clip frame: mean difference {nearest:.2f}")
    assert nearest < PIXEL_TOLERANCE, f"the console's video is not the demo clip ({nearest:.1f})"

    # Vision locates the board where the clip put it, and the overlay is drawn there.
    state = wait_until(
        lambda: (lambda s: s if s and s.get("found") else None)(expert.evaluate(AR_LAST)),
        30,
        "the board found",
    )
    outline = np.array(state["outline_frame_px"]) * (640 / state["frame_size"][0])
    error = min(float(np.linalg.norm(outline - truth, axis=1).max()) for truth in true_corners(clip))
    print(f"AR outline vs the nearest clip frame's truth: {error:.2f} px")
    assert error < OUTLINE_TOLERANCE_PX, f"the AR outline is {error:.2f} px from any frame's truth"
    wait_until(
        lambda: (lambda p: p if p and p.get("step_id") == "find-header" else None)(
            expert.evaluate(PROCEDURE_STATE)
        ),
        15,
        "vision to complete the first step",
    )
    alphas = wait_until(
        lambda: (lambda a: a if a and min(a) > 0 else None)(expert.evaluate(OVERLAY_ALPHA_AT)),
        10,
        "the overlay drawn on the board",
    )
    assert len(alphas) == 4

    # The expert ends the session: the recording is finalised and plays.
    end_session(expert)
    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
        recording = wait_until(
            lambda: (lambda r: r if r.get("status") == "complete" else None)(
                api.get(f"/api/sessions/{session_id}/recording").json()
            ),
            20,
            "the recording to be finalised",
        )
        case_id = api.get(f"/api/sessions/{session_id}").json()["case_id"]
        case = api.get(f"/api/cases/{case_id}").json()
    assert recording["duration_s"] > 1  # as long as vision takes to do the first step (2.5 s once)
    assert case["source"] == "demo" and case["title"] == "Demo: Reseat the J5 header cable"
    expert.goto(f"{server.base_url}/playback/{session_id}")
    duration = wait_until(lambda: expert.evaluate(PLAYBACK_DURATION), 15, "the recording's metadata")
    assert abs(duration - recording["duration_s"]) < 1.5, (duration, recording["duration_s"])
    assert page_errors == []
