"""The expert's marks: drawn in frame pixels, kept in reference pixels, projected back."""

from __future__ import annotations

import numpy as np
import pytest

from server.live.marks import anchored_mark, check_points, frame_to_reference, pinned_mark
from signaling.messages import Annotate, ProtocolError
from vision.annotations import Arrow, Circle, Label, Polyline
from vision.geometry import project_points
from vision.projection import project_annotations

# A device seen in perspective: reference px -> frame px.
H = np.array([[0.8, 0.12, 100.0], [-0.05, 0.7, 60.0], [0.0002, 0.0004, 1.0]])
ROUND_TRIP_TOLERANCE_PX = 0.05


def annotate(shape: str, points: list[tuple[float, float]], text: str | None = None) -> Annotate:
    return Annotate(
        shape=shape, points_frame_px=points, frame_size=(640, 480), frame_timestamp_ms=1, text=text
    )


def test_frame_to_reference_and_back_is_the_identity() -> None:
    frame_points = [(120.0, 90.0), (400.5, 300.25), (639.0, 479.0), (0.0, 0.0)]
    ref = frame_to_reference(frame_points, H)
    back = project_points(H, ref)
    assert np.abs(back - np.array(frame_points)).max() < 1e-9


@pytest.mark.parametrize(
    ("shape", "points", "kind"),
    [
        ("arrow", [(200.0, 150.0), (320.0, 260.0)], Arrow),
        ("circle", [(300.0, 200.0), (330.0, 200.0)], Circle),
        ("rect", [(150.0, 120.0), (260.0, 220.0)], Polyline),
        ("freehand", [(150.0, 120.0), (180.0, 150.0), (210.0, 140.0)], Polyline),
        ("text", [(250.0, 250.0)], Label),
    ],
)
def test_a_mark_drawn_on_a_frame_lands_where_it_was_drawn_when_projected(shape, points, kind) -> None:  # type: ignore[no-untyped-def]
    kept, annotation = anchored_mark("m1", annotate(shape, points, "J3"), H, (640, 480), "press")
    assert isinstance(annotation, kind)
    assert kept.anchored and kept.points_ref_px and kept.step_id == "press"
    projected = project_annotations((annotation,), H)[0].points_frame_px
    if shape in ("arrow", "freehand", "text"):
        assert np.abs(projected[: len(points)] - np.array(points)).max() < ROUND_TRIP_TOLERANCE_PX
    elif shape == "rect":
        (x0, y0), (x1, y1) = points
        corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        assert np.abs(projected[:4] - corners).max() < ROUND_TRIP_TOLERANCE_PX
    else:  # a circle's centre comes back where it was drawn
        centre = projected.mean(axis=0)
        assert np.hypot(*(centre - np.array(points[0]))) < 2.0


def test_points_from_a_smaller_video_are_scaled_to_the_frame() -> None:
    small = Annotate(shape="arrow", points_frame_px=[(100.0, 75.0), (160.0, 120.0)], frame_size=(320, 240))
    kept, _ = anchored_mark("m", small, H, (640, 480), None)
    full = frame_to_reference([(200.0, 150.0), (320.0, 240.0)], H)
    assert np.abs(np.array(kept.points_ref_px) - full).max() < 0.01


def test_without_a_device_the_mark_is_pinned_in_fractions_of_the_frame() -> None:
    kept = pinned_mark("m", annotate("arrow", [(320.0, 240.0), (640.0, 0.0)]), None)
    assert not kept.anchored
    assert kept.points_frame_fraction == [(0.5, 0.5), (1.0, 0.0)]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (annotate("arrow", [(10.0, 10.0)]), "invalid_annotation"),
        (annotate("arrow", [(10.0, 10.0), (10.5, 10.5)]), "invalid_annotation"),
        (annotate("arrow", [(10.0, 10.0), (900.0, 10.0)]), "out_of_range"),
        (annotate("circle", [(10.0, -50.0), (20.0, 20.0)]), "out_of_range"),
        (annotate("text", [(10.0, 10.0)], "  "), "invalid_annotation"),
        (annotate("freehand", [(float("nan"), 1.0), (2.0, 2.0)]), "invalid_annotation"),
        (
            Annotate(shape="arrow", points_frame_px=[(1.0, 1.0), (9.0, 9.0)], frame_size=(0, 480)),
            "invalid_annotation",
        ),
    ],
)
def test_malformed_or_out_of_range_marks_are_refused(message: Annotate, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        check_points(message)
    assert caught.value.code == code
    assert caught.value.message


def test_a_point_just_past_the_edge_is_accepted() -> None:
    check_points(annotate("arrow", [(-5.0, 10.0), (645.0, 485.0)]))
