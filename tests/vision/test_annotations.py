"""Annotations as data, their projection into frames, and burn-in drawing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.vision.conftest import image
from vision.annotations import Arrow, Circle, Label, Polyline, Rect, annotation_from_dict
from vision.drawing import draw_overlay, label_box
from vision.projection import CIRCLE_SEGMENTS, project_annotation, project_annotations

PROJECTION_TOLERANCE_PX = 1e-6

GOOD = [
    {"kind": "rect", "ref_px": [[120, 80], [260, 150]], "label": "J3 connector"},
    {"kind": "circle", "centre_ref_px": [50.5, 60], "radius_ref_px": 12, "label": None},
    {"kind": "arrow", "from_ref_px": [0, 0], "to_ref_px": [10, 5], "label": "push"},
    {"kind": "polyline", "points_ref_px": [[0, 0], [5, 5], [9, 1]], "closed": True, "label": None},
    {"kind": "label", "at_ref_px": [3, 4], "text": "screw"},
]


@pytest.mark.parametrize("data", GOOD, ids=[d["kind"] for d in GOOD])
def test_dict_round_trip(data: dict) -> None:
    annotation = annotation_from_dict(data)
    again = annotation_from_dict(annotation.to_dict())
    assert again == annotation


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "rect", "ref_px": [[0, 0], [1]]}, r"rect.ref_px\[1\]"),
        ({"kind": "rect", "ref_px": [[0, 0], [0, 5]]}, "empty rectangle"),
        ({"kind": "rect", "ref_px": [[0, 0], [math.nan, 5]]}, "finite"),
        ({"kind": "circle", "centre_ref_px": [0, 0], "radius_ref_px": -1}, "positive"),
        ({"kind": "circle", "centre_ref_px": [0, 0], "radius_ref_px": True}, "radius_ref_px"),
        ({"kind": "arrow", "from_ref_px": [1, 1], "to_ref_px": [1, 1]}, "same point"),
        ({"kind": "arrow", "from_ref_px": ["1", 1], "to_ref_px": [2, 1]}, "finite numbers"),
        ({"kind": "polyline", "points_ref_px": [[0, 0]]}, "2..256 points"),
        ({"kind": "polyline", "points_ref_px": [[0, 0]] * 300}, "2..256 points"),
        ({"kind": "label", "at_ref_px": [0, 0], "text": " "}, "empty"),
        ({"kind": "label", "at_ref_px": [0, 0]}, "required"),
        ({"kind": "rect", "ref_px": [[0, 0], [1, 1]], "label": 5}, "label"),
        ({"kind": "star"}, "annotation.kind"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_annotations_are_refused_with_the_field_named(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        annotation_from_dict(data)


def test_projection_follows_the_homography() -> None:
    h = np.array([[0.9, 0.1, 40.0], [-0.05, 1.1, 20.0], [1e-4, 2e-4, 1.0]])
    rect = project_annotation(Rect(((10, 20), (110, 70)), "r"), h)
    assert rect is not None and rect.closed and rect.points_frame_px.shape == (4, 2)
    corners = np.array([[10, 20], [110, 20], [110, 70], [10, 70]], dtype=np.float64)
    homogeneous = (h @ np.column_stack([corners, np.ones(4)]).T).T
    expected = homogeneous[:, :2] / homogeneous[:, 2:]
    assert np.abs(rect.points_frame_px - expected).max() < PROJECTION_TOLERANCE_PX
    circle = project_annotation(Circle((50, 50), 10), np.eye(3))
    assert circle is not None and circle.points_frame_px.shape == (CIRCLE_SEGMENTS, 2)
    assert np.allclose(np.linalg.norm(circle.points_frame_px - [50, 50], axis=1), 10)
    arrow = project_annotation(Arrow((0, 0), (10, 0)), np.eye(3))
    assert arrow is not None and not arrow.closed and arrow.kind == "arrow"
    label = project_annotation(Label((3, 4), "here"), np.eye(3))
    assert label is not None and label.label == "here" and label.kind == "label"


def test_annotations_behind_the_camera_are_dropped() -> None:
    h = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.01, 0, 1.0]])  # w < 0 for x > 100
    shown = project_annotations((Polyline(((0, 0), (50, 0))), Polyline(((0, 0), (200, 0)))), h)
    assert len(shown) == 1


@pytest.mark.parametrize("anchor", [(-50, -50), (700, 500), (320, 5), (5, 470)])
def test_labels_stay_inside_the_frame(anchor: tuple[float, float]) -> None:
    x, y, w, h = label_box("Reseat the J3 connector", np.array(anchor, dtype=np.float64), (640, 480), 0.67, 1)
    assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480


def test_drawing_marks_the_outline_and_leaves_the_input_alone() -> None:
    frame = image("stuff.jpg")
    before = frame.copy()
    outline = np.array([[100, 100], [500, 120], [480, 400], [120, 380]], dtype=np.float64)
    rect = project_annotation(Rect(((200, 200), (300, 260)), "J3"), np.eye(3))
    assert rect is not None
    drawn = draw_overlay(frame, outline, [rect])
    assert np.array_equal(frame, before)
    changed = np.abs(drawn.astype(int) - frame.astype(int)).sum(axis=2) > 0
    assert changed[110, 300] and changed[200, 250] and not changed[300, 300]  # [row, column]
