"""The pages' label rule (``client_web/js/labels.js``) against the shared vectors that
``vision/labels.py`` (the burn-in of live video and exports) is tested on: a label sits in the same
place, relative to its part, on the pages and in an exported video. And what a person sees on a
phone-sized overlay: on the board procedure's step 2 the X1 crystal's label leaves J5 visible, and
on step 4 the five capacitor labels are five separate boxes."""

from __future__ import annotations

import base64
import json
from typing import Any

import cv2
import numpy as np

from procedures.loader import BUILTIN_LIBRARY, ProcedureLibrary
from tests.e2e.conftest import RunningServer, close
from tests.server_process import REPO
from vision.geometry import project_points
from vision.projection import project_annotations

VECTORS = json.loads((REPO / "tests" / "data" / "label_vectors.json").read_text())

RESULTS_JS = """async (vectors) => {
  const { clearanceBox, placeLabels } = await import('/static/js/labels.js');
  return {
    clearance: vectors.clearance.map((c) => clearanceBox(c.kind, c.points, c.closed)),
    placements: vectors.placements.map((c) => placeLabels(c.bounds, c.labels, c.keep_clear, c.gap_px)),
  };
}"""


def test_the_pages_label_rule_follows_the_shared_vectors(server: RunningServer, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server.base_url + "/static/css/app.css")  # any page of the site: modules load from its origin
    results = page.evaluate(RESULTS_JS, VECTORS)
    tolerance = VECTORS["tolerance"]
    for case, got in zip(VECTORS["clearance"], results["clearance"], strict=True):
        assert close(case["expected"], got, tolerance), (case["why"], got)
    checked = 0
    for case, placed in zip(VECTORS["placements"], results["placements"], strict=True):
        assert len(placed) == len(case["expected"]), case["why"]
        for expected, got in zip(case["expected"], placed, strict=True):
            for key in ("box", "leader_to", "clear"):
                assert close(expected[key], got[key], tolerance), (case["why"], key, got)
            checked += 1
    assert checked == sum(len(case["expected"]) for case in VECTORS["placements"]) > 30


# Reference px -> frame px (640x480): the board filling the frame, and small in it (half size). The
# frame is shown 384x288 (scale 0.6, 14 px labels) as on a phone, so the labels are large next to the
# parts, as in the first-shift report.
IDENTITY = np.eye(3)
FAR = np.array([[0.5, 0.0, 160.0], [0.0, 0.5, 120.0], [0.0, 0.0, 1.0]])
VIEW_SCALE = 0.6
J5_REF_PX = [[527, 152], [583, 152], [583, 194], [527, 194]]
LABEL_BG_RGBA = (10, 16, 24, round(0.88 * 255))  # overlay.js COLORS.labelBg over a transparent canvas
BACKGROUND_TOLERANCE = 3
MIN_LABEL_AREA_PX = 80

DRAW_JS = """async ([state, width, height]) => {
  const { drawOverlay } = await import('/static/js/overlay.js');
  document.body.innerHTML = '';
  document.body.style.margin = '0';
  const box = document.createElement('div');
  box.style.cssText = `position: relative; width: ${width}px; height: ${height}px`;
  const video = document.createElement('canvas');  // stands in for the <video>: same box, same frame size
  video.width = state.frame_size[0];
  video.height = state.frame_size[1];
  video.style.cssText = `position: absolute; left: 0; top: 0; width: ${width}px; height: ${height}px`;
  const overlay = document.createElement('canvas');
  overlay.style.cssText = 'position: absolute';
  box.append(video, overlay);
  document.body.append(box);
  drawOverlay(overlay, video, state);
  return overlay.toDataURL('image/png');
}"""


def ar_state(step_id: str, homography: np.ndarray) -> dict[str, Any]:
    procedure = ProcedureLibrary.load([BUILTIN_LIBRARY]).get("board-connector-reseat")
    assert procedure is not None
    marks = project_annotations(procedure.step_annotations(step_id), homography)
    return {
        "frame_size": [640, 480],
        "found": True,
        "outline_frame_px": None,
        "annotations": [m.to_dict() for m in marks],
        "target_frame_px": None,
        "hands": [],
        "pinned": [],
    }


def drawn_overlay(page: Any, step_id: str, homography: np.ndarray) -> np.ndarray:
    """The overlay canvas (BGRA) of ``step_id`` on a 384x288 view, device pixel ratio 1."""
    data_url = page.evaluate(DRAW_JS, [ar_state(step_id, homography), 640 * VIEW_SCALE, 480 * VIEW_SCALE])
    png = base64.b64decode(data_url.split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape == (288, 384, 4)
    return image


def label_background(overlay_bgra: np.ndarray) -> np.ndarray:
    r, g, b, a = LABEL_BG_RGBA
    expected = np.array([b, g, r, a])
    mask: np.ndarray = np.all(np.abs(overlay_bgra.astype(int) - expected) <= BACKGROUND_TOLERANCE, axis=2)
    return mask


def label_boxes(background: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1) of the separate label backgrounds of at least
    ``MIN_LABEL_AREA_PX``; checked to be apart, as a label drawn over another cuts it."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(background.astype(np.uint8), connectivity=4)
    boxes = [
        (int(x), int(y), int(x + w), int(y + h))
        for x, y, w, h, area in stats[1:count]
        if area >= MIN_LABEL_AREA_PX
    ]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1]), (a, b)
    return boxes


def test_on_a_phone_labels_leave_j5_visible_and_do_not_pile_up(server: RunningServer, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 400, "height": 300})
    page.goto(server.base_url + "/static/css/app.css")

    step_2 = label_background(drawn_overlay(page, "find-header", FAR))
    assert len(label_boxes(step_2)) == 2, "J5 and X1 crystal: two whole labels, neither over the other"
    j5 = project_points(FAR, np.array(J5_REF_PX, dtype=np.float64)) * VIEW_SCALE
    (x0, y0), (x1, y1) = np.floor(j5.min(axis=0)).astype(int), np.ceil(j5.max(axis=0)).astype(int)
    assert not step_2[y0:y1, x0:x1].any(), "a label covers J5"

    # The board filling the frame: every capacitor label has a clear place, so each background is
    # whole (a leader line passing under a label, allowed only when nothing is clear, would cut it).
    step_4 = label_background(drawn_overlay(page, "check-capacitors", IDENTITY))
    assert len(label_boxes(step_4)) == 5  # five separate label boxes, none merged into another
