"""AR in a live session, in two real Chromium pages through the real server.

The customer's fake camera plays the circuit board moving in perspective (each frame carries
its number, and the clip generator knows the true homography of every frame). The expert
picks the board procedure. We check that vision finds the board where it truly is, that the
step's overlay is drawn on both screens where the device is, that vision completes the
"visible" step on its own, that a mark the expert draws lands on the customer's side in
reference pixels at the place it was drawn, and that the expert can advance a step.
"""

from __future__ import annotations

import json

import cv2
import httpx
import numpy as np

from tests.clipgen import read_frame_number
from tests.e2e.conftest import (
    Clip,
    RunningServer,
    TwoPages,
    customer_joins,
    draw_arrow_on_frozen_frame,
    end_session,
    open_console_for_new_case,
    overlay_alpha_js,
    wait_until,
)

PROCEDURE = "board-connector-reseat"
# Vision runs on the phone's VP8 at the server; the generated clip's truth is exact.
OUTLINE_TOLERANCE_PX = 4.0
# A mark is mapped through the homography of the very AR state it was drawn on: only rounding.
MARK_TOLERANCE_REF_PX = 2.0

AR_LAST = "() => window.repairsight && window.repairsight.ar ? window.repairsight.ar.last : null"
PROCEDURE_STATE = "() => window.repairsight ? window.repairsight.procedure : null"
# One evaluate reads the AR state as the overlay drew it (carried to the frame on screen,
# docs/ar-in-the-page.md) and the overlay pixels, so the two always match.
OVERLAY_ALPHA_AT = (
    "() => { const ar = window.repairsight.ar.drawn; const quad = ar.outline_frame_px;"
    " const mid = (p, q) => [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];"
    " const points = quad.map((p, i) => mid(p, quad[(i + 1) % 4]))"
    " .concat(ar.annotations.map((a) => a.points_frame_px[0]));"
    f" return ({overlay_alpha_js('overlay-canvas', '{VIDEO}')})([points, ar.frame_size]); }}"
)


def outline_error_px(api: httpx.Client, session_id: str, clip: Clip) -> float:
    """Corner error of a snapshot's AR outline against the clip's truth for that very frame."""
    snapshot = api.get(f"/api/sessions/{session_id}/snapshots").json()["snapshots"][-1]
    image = cv2.imdecode(np.frombuffer(api.get(snapshot["clean_url"]).content, np.uint8), cv2.IMREAD_COLOR)
    meta = api.get(snapshot["clean_url"].replace(".jpg", ".json")).json()
    state = meta["ar_state"]
    assert state["found"], "vision lost the board in the snapshot frame"
    width, height = clip.truth["width"], clip.truth["height"]
    scale = np.array([width / image.shape[1], height / image.shape[0]])
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height))
    number = read_frame_number(image)
    assert number is not None, "the snapshot carries no frame number: it is not the customer's camera"
    truth = np.array(clip.truth["frames"][number % clip.truth["num_frames"]]["corners"])
    outline = np.array(state["outline_frame_px"]) * scale
    return float(np.linalg.norm(outline - truth, axis=1).max())


def test_ar_overlay_marks_and_steps_on_both_screens(
    server: RunningServer, pages: TwoPages, board_clip: Clip
) -> None:
    expert, customer, page_errors = pages.expert, pages.customer, pages.errors

    session_id, customer_url = open_console_for_new_case(expert, server, "Sound card crackles")
    expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
    customer_joins(customer, customer_url)

    # Vision finds the board and both pages get the AR state over the data channel.
    for page in (expert, customer):
        wait_until(lambda page=page: (page.evaluate(AR_LAST) or {}).get("found"), 30, "the board found")

    # The "visible" first step completes by vision and both sides move on.
    for page in (expert, customer):
        state = wait_until(
            lambda page=page: (lambda p: p if p and p.get("step_id") == "find-header" else None)(
                page.evaluate(PROCEDURE_STATE)
            ),
            15,
            "vision to complete the first step",
        )
        assert state["changed_by"] == "vision" and state["completed"] == ["locate"]
    assert "Find header J5" in customer.get_by_test_id("step-title").text_content()

    # The overlay is drawn where the device is, on both screens.
    for page in (expert, customer):
        video = "remote-video" if page is expert else "local-video"
        alphas = page.evaluate(OVERLAY_ALPHA_AT.replace("{VIDEO}", video))
        assert len(alphas) >= 5 and min(alphas) > 0, (
            f"overlay missing at the device on the {page.url} page: {alphas}"
        )

    # Where vision says the board is, is where it truly is (a snapshot keeps frame and AR state).
    expert.get_by_test_id("snapshot").click()
    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
        wait_until(
            lambda: api.get(f"/api/sessions/{session_id}/snapshots").json()["snapshots"], 10, "snapshot"
        )
        error = outline_error_px(api, session_id, board_clip)
    print(f"AR outline vs truth (worst corner, snapshot frame): {error:.2f} px")
    assert error < OUTLINE_TOLERANCE_PX, f"AR outline is {error:.2f} px from the truth"

    # The expert freezes the frame and draws an arrow from the centre of the reference photo on
    # it; the mark lands on the customer's side in reference pixels, at that centre.
    ref_w, ref_h = 640, 480
    centre_ref = ((ref_w - 1) / 2, (ref_h - 1) / 2)
    draw_arrow_on_frozen_frame(expert, centre_ref, (centre_ref[0] + 120, centre_ref[1] - 60))
    marks = wait_until(
        lambda: customer.evaluate("() => window.repairsight.annotations") or None,
        10,
        "the mark at the customer",
    )
    mark = marks[-1]
    assert mark["anchored"] is True and mark["shape"] == "arrow"
    drawn_at = np.array(mark["points_ref_px"][0])
    print(f"expert's mark in reference px: {drawn_at.tolist()}, drawn at {centre_ref}")
    assert np.hypot(*(drawn_at - np.array(centre_ref))) < MARK_TOLERANCE_REF_PX, (
        f"the mark's start is at {drawn_at.tolist()} in reference px, drawn at {centre_ref}"
    )
    # From then on the customer's AR state carries the arrow, projected onto the device.
    wait_until(
        lambda: any(
            a["kind"] == "arrow" and len(a["points_frame_px"]) == 2
            for a in (customer.evaluate(AR_LAST) or {}).get("annotations", [])
            if a.get("label") is None
        ),
        10,
        "the expert's arrow in the customer's overlay",
    )

    # The expert advances a step; both sides follow.
    expert.get_by_test_id("step-next").click()
    for page in (expert, customer):
        wait_until(
            lambda page=page: (page.evaluate(PROCEDURE_STATE) or {}).get("step_id") == "press", 10, "step 3"
        )
    assert "Press the plug down" in customer.get_by_test_id("step-title").text_content()
    # The expert's mark stays on the device in the new step too.
    wait_until(
        lambda: any(
            a["kind"] == "arrow" and a.get("label") is None
            for a in (customer.evaluate(AR_LAST) or {}).get("annotations", [])
        ),
        10,
        "the expert's arrow after the step changed",
    )
    assert page_errors == []

    # Every AR event is in the session's event log.
    end_session(expert)
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
        recording = wait_until(
            lambda: (lambda r: r if r.get("status") == "complete" else None)(
                api.get(f"/api/sessions/{session_id}/recording").json()
            ),
            15,
            "the recording to be finalised",
        )
        events = [json.loads(line) for line in api.get(recording["events_url"]).text.splitlines() if line]
    kinds = [e["type"] for e in events]
    for kind in ("procedure_chosen", "step_completed", "step_changed", "annotation_added", "snapshot"):
        assert kind in kinds, f"no {kind!r} in the event log"
    completed = next(e for e in events if e["type"] == "step_completed")
    assert completed["by"] == "vision" and completed["step_id"] == "locate"
