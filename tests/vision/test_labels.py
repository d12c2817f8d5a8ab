"""Where labels go (vision/labels.py) and how the burn-in draws them (vision/drawing.py).

The rule is checked three ways: against the vectors the pages' copy (client_web/js/labels.js) is
tested on too (tests/e2e/test_label_vectors.py), on the board procedure's crowded steps (step 2: the
X1 crystal's label must not hide J5; step 4: five capacitor labels must not pile up), and in the
pixels of a burned-in frame.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from procedures.loader import BUILTIN_LIBRARY, ProcedureLibrary
from vision.drawing import LABEL_BG_ALPHA, LABEL_BG_BGR, draw_overlay, place_annotation_labels
from vision.geometry import project_points
from vision.labels import Box, LabelRequest, PlacedLabel, clearance_box, place_labels
from vision.projection import ProjectedAnnotation, project_annotations
from vision.types import FloatArray, ImageArray

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "tests" / "data" / "label_vectors.json").read_text())
PROCEDURE = ProcedureLibrary.load([BUILTIN_LIBRARY]).get("board-connector-reseat")
FRAME_SIZE = (640, 480)
J5_REF_PX = [[527, 152], [583, 152], [583, 194], [527, 194]]

# Reference px -> frame px: the board filling the frame, a phone held at an angle, and the board
# small in the frame (half size), where labels are largest next to the parts.
HOMOGRAPHIES = {
    "identity": np.eye(3),
    "perspective": np.array([[0.9, 0.12, 40.0], [-0.05, 0.85, 60.0], [0.0002, 0.0004, 1.0]]),
    "far": np.array([[0.5, 0.0, 160.0], [0.0, 0.5, 120.0], [0.0, 0.0, 1.0]]),
}
# The phone page's labels (14 px font on a 390 px wide picture, about 8.5 px a character, 22 px
# high, a 5.6 px gap) in frame px of a 640 px wide frame: bigger than the burn-in's.
PHONE_SCALE = 640 / 390
PHONE_CHAR_PX, PHONE_HEIGHT_PX, PHONE_PAD_PX, PHONE_GAP_PX = 8.5, 22.0, 14.0, 5.6
# A burned-in label's background: the pages' colour over the picture, give or take rounding.
BACKGROUND_TOLERANCE = 3
TEXT_MIN = 200  # all three channels: the light label text


def board_marks(step_id: str, homography: FloatArray) -> tuple[ProjectedAnnotation, ...]:
    assert PROCEDURE is not None
    return project_annotations(PROCEDURE.step_annotations(step_id), homography)


def frame_polygon(ref_px: list[list[int]], homography: FloatArray) -> FloatArray:
    return project_points(homography, np.array(ref_px, dtype=np.float64))


def board_frame(homography: FloatArray) -> ImageArray:
    board = cv2.imread(str(BUILTIN_LIBRARY / "board-connector-reseat" / "board.jpg"), cv2.IMREAD_COLOR)
    assert board is not None
    return cv2.warpPerspective(board, homography, FRAME_SIZE)


def as_points(points: FloatArray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


def overlaps(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def shape_boxes(marks: Sequence[ProjectedAnnotation]) -> list[Box | None]:
    return [clearance_box(m.kind, as_points(m.points_frame_px), m.closed) for m in marks]


def phone_places(
    marks: Sequence[ProjectedAnnotation], target: FloatArray | None
) -> tuple[list[LabelRequest], tuple[PlacedLabel, ...]]:
    """The labels as the phone page sizes them, placed in frame px."""
    requests = [
        LabelRequest(
            (float(m.label_at_frame_px[0]), float(m.label_at_frame_px[1])),
            ((PHONE_CHAR_PX * len(m.label) + PHONE_PAD_PX) * PHONE_SCALE, PHONE_HEIGHT_PX * PHONE_SCALE),
        )
        for m in marks
        if m.label
    ]
    keep = [box for box in shape_boxes(marks) if box is not None]
    if target is not None:
        target_box = clearance_box("target", as_points(target), True)
        assert target_box is not None
        keep.append(target_box)
    return requests, place_labels((0, 0, *FRAME_SIZE), requests, keep, PHONE_GAP_PX * PHONE_SCALE)


# --- the shared vectors ---------------------------------------------------------------------------


def close(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(close(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float | int) and not isinstance(a, bool):
        return isinstance(b, float | int) and not isinstance(b, bool) and abs(a - b) <= VECTORS["tolerance"]
    return bool(a == b)


@pytest.mark.parametrize("case", VECTORS["placements"], ids=[c["why"] for c in VECTORS["placements"]])
def test_labels_are_placed_as_the_shared_vectors_say(case: dict[str, Any]) -> None:
    labels = [LabelRequest(tuple(label["anchor"]), tuple(label["size"])) for label in case["labels"]]
    keep = [tuple(box) for box in case["keep_clear"]]
    placed = place_labels(tuple(case["bounds"]), labels, keep, case["gap_px"])  # type: ignore[arg-type]
    assert len(placed) == len(case["expected"])
    for got, expected in zip(placed, case["expected"], strict=True):
        assert close(got.box, expected["box"]), (got, expected)
        assert close(got.leader_to, expected["leader_to"]), (got, expected)
        assert got.clear is expected["clear"]


@pytest.mark.parametrize("case", VECTORS["clearance"], ids=[c["why"] for c in VECTORS["clearance"]])
def test_keep_clear_boxes_are_as_the_shared_vectors_say(case: dict[str, Any]) -> None:
    got = clearance_box(case["kind"], [tuple(p) for p in case["points"]], case["closed"])
    assert close(got, case["expected"])


def test_the_vectors_cover_every_branch_of_the_rule() -> None:
    whys = " ".join(c["why"] for c in VECTORS["placements"])
    for branch in (
        "above, centred",
        "moved inside the bounds",
        "larger than the bounds",
        "letterboxed",
        "off the step's target",
        "fallback",
        "leaves the shape its anchor is in",
        "anchor is not covered",
        "does not run through a placed label",
        "does not run through a keep-clear box",
        "does not run through another label's anchor",
        "keeps off an earlier leader line",
    ):
        assert branch in whys, branch
    assert any(not p["clear"] for c in VECTORS["placements"] for p in c["expected"])
    assert any(p["leader_to"] is not None for c in VECTORS["placements"] for p in c["expected"])


# --- the rule on the board procedure ---------------------------------------------------------------


def check_apart(
    boxes: Sequence[Box], anchors: Sequence[tuple[float, float]], keep: Sequence[Box | None]
) -> None:
    """No two label boxes overlap, none covers a keep-clear box, every box is in the frame."""
    for a, b in combinations(range(len(boxes)), 2):
        assert not overlaps(boxes[a], boxes[b]), f"labels {a} and {b} overlap: {boxes[a]} {boxes[b]}"
    for i, box in enumerate(boxes):
        assert 0 <= box[0] and 0 <= box[1] and box[2] <= FRAME_SIZE[0] and box[3] <= FRAME_SIZE[1]
        for region in keep:
            assert region is None or not overlaps(box, region), f"label {i} {box} covers {region}"
        for j, (x, y) in enumerate(anchors):
            assert not (box[0] < x < box[2] and box[1] < y < box[3]), f"label {i} covers anchor {j}"


@pytest.mark.parametrize("view", ["identity", "perspective", "far"])
@pytest.mark.parametrize("sizes", ["burn-in", "phone"])
@pytest.mark.parametrize(("step_id", "target_ref_px"), [("find-header", None), ("find-header", J5_REF_PX)])
def test_on_step_2_the_crystals_label_keeps_off_j5(
    view: str, sizes: str, step_id: str, target_ref_px: list[list[int]] | None
) -> None:
    """Step 2 names no target; J5's rect (and, as the step's target, J5 itself) stays uncovered."""
    h = HOMOGRAPHIES[view]
    marks = board_marks(step_id, h)
    target = None if target_ref_px is None else frame_polygon(target_ref_px, h)
    if sizes == "burn-in":
        labels = place_annotation_labels(FRAME_SIZE, marks, target)
        boxes = [label.place.box for label in labels]
        anchors = [label.anchor_frame_px for label in labels]
        assert all(label.place.clear for label in labels)
    else:
        requests, places = phone_places(marks, target)
        boxes = [p.box for p in places]
        anchors = [r.anchor for r in requests]
        assert all(p.clear for p in places)
    keep = shape_boxes(marks)
    if target is not None:
        keep.append(clearance_box("target", as_points(target), True))
    check_apart(boxes, anchors, keep)
    j5 = clearance_box("rect", as_points(frame_polygon(J5_REF_PX, h)), True)
    assert j5 is not None and not any(overlaps(box, j5) for box in boxes)


@pytest.mark.parametrize("view", ["identity", "perspective", "far"])
@pytest.mark.parametrize("sizes", ["burn-in", "phone"])
def test_on_step_4_the_five_capacitor_labels_do_not_pile_up(view: str, sizes: str) -> None:
    h = HOMOGRAPHIES[view]
    marks = board_marks("check-capacitors", h)
    assert sum(1 for m in marks if m.label) == 5
    if sizes == "burn-in":
        labels = place_annotation_labels(FRAME_SIZE, marks)
        boxes = [label.place.box for label in labels]
        anchors = [label.anchor_frame_px for label in labels]
    else:
        requests, places = phone_places(marks, None)
        boxes = [p.box for p in places]
        anchors = [r.anchor for r in requests]
    check_apart(boxes, anchors, shape_boxes(marks))


@pytest.mark.parametrize("view", ["identity", "perspective", "far"])
def test_on_step_3_the_text_mark_keeps_off_its_target(view: str) -> None:
    h = HOMOGRAPHIES[view]
    marks = board_marks("press", h)
    target = frame_polygon(J5_REF_PX, h)
    (label,) = place_annotation_labels(FRAME_SIZE, marks, target)
    requests, (phone,) = phone_places(marks, target)
    target_box = clearance_box("target", as_points(target), True)
    assert target_box is not None
    for place in (label.place, phone):
        assert place.clear and not overlaps(place.box, target_box)


NEXT_TO_ANCHOR_PX = 12.0  # a label without a leader line touches its part (1.5 gaps of 6 px at 480 px)


def test_a_label_that_had_to_move_has_a_leader_line_to_its_anchor() -> None:
    labels = place_annotation_labels(FRAME_SIZE, board_marks("check-capacitors", np.eye(3)))
    assert any(label.place.leader_to is not None for label in labels)
    for label in labels:
        (ax, ay), box = label.anchor_frame_px, label.place.box
        nearest = (min(max(ax, box[0]), box[2]), min(max(ay, box[1]), box[3]))
        if label.place.leader_to is None:
            assert math.dist(nearest, (ax, ay)) <= NEXT_TO_ANCHOR_PX
        else:
            assert label.place.leader_to == nearest  # from the anchor to the box's nearest point
            assert math.dist(nearest, (ax, ay)) > NEXT_TO_ANCHOR_PX


# --- the burn-in's pixels ---------------------------------------------------------------------------


def background_mask(drawn: ImageArray, frame: ImageArray) -> np.ndarray:
    """Pixels of ``drawn`` that are the label background laid over ``frame``."""
    expected = frame * (1 - LABEL_BG_ALPHA) + np.array(LABEL_BG_BGR, dtype=np.float64) * LABEL_BG_ALPHA
    mask: np.ndarray = np.all(np.abs(drawn.astype(np.float64) - expected) <= BACKGROUND_TOLERANCE, axis=2)
    return mask


def label_regions(drawn: ImageArray, frame: ImageArray, min_area_px: int) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1) of the separate label backgrounds of at least ``min_area_px``."""
    mask = background_mask(drawn, frame).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    return [
        (int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, area in stats[1:count] if area >= min_area_px
    ]


def test_the_burn_in_uses_the_pages_label_background() -> None:
    overlay_js = (REPO / "client_web" / "js" / "overlay.js").read_text()
    match = re.search(r"labelBg: 'rgba\((\d+), (\d+), (\d+), ([\d.]+)\)'", overlay_js)
    assert match is not None, "overlay.js COLORS.labelBg"
    r, g, b, alpha = match.groups()
    assert LABEL_BG_BGR == (int(b), int(g), int(r)) and LABEL_BG_ALPHA == float(alpha)


@pytest.mark.parametrize("view", ["identity", "perspective"])
def test_burned_in_step_4_labels_are_five_dark_boxes_with_light_text(view: str) -> None:
    h = HOMOGRAPHIES[view]
    frame = board_frame(h)
    drawn = draw_overlay(frame, None, board_marks("check-capacitors", h))
    regions = label_regions(drawn, frame, min_area_px=300)
    assert len(regions) == 5, regions  # one background each: none merged with another
    for a, b in combinations(regions, 2):
        assert not overlaps(a, b), (a, b)
    for x0, y0, x1, y1 in regions:
        inside = drawn[y0:y1, x0:x1]
        text = np.all(inside >= TEXT_MIN, axis=2)
        assert text.sum() >= 15, "light text on the dark background"
        assert background_mask(inside, frame[y0:y1, x0:x1]).mean() > 0.5, "mostly background"


def test_burned_in_labels_leave_the_target_and_j5_visible() -> None:
    h = HOMOGRAPHIES["far"]
    frame = board_frame(h)
    j5 = frame_polygon(J5_REF_PX, h)
    x0, y0 = np.floor(j5.min(axis=0)).astype(int)
    x1, y1 = np.ceil(j5.max(axis=0)).astype(int)
    step_2 = draw_overlay(frame, None, board_marks("find-header", h))
    step_3 = draw_overlay(frame, None, board_marks("press", h), target_frame_px=j5)
    for drawn in (step_2, step_3):
        assert label_regions(drawn, frame, min_area_px=100), "labels were drawn"
        assert not background_mask(drawn[y0:y1, x0:x1], frame[y0:y1, x0:x1]).any()
