"""The expert's marks: from the pixels of the frame they were drawn on to the device's reference pixels.

A mark drawn on the video is in frame pixels of one frame. Through the inverse of that frame's
homography (reference px -> frame px) it becomes a mark in reference pixels, which vision then
projects into every later frame: it stays on the device on both screens. When no device was
located in that frame, the mark is pinned to the screen instead, in fractions of the frame.

Pure functions: checked input in, a ``SessionAnnotation`` and a vision ``Annotation`` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from signaling.messages import Annotate, Point, ProtocolError, SessionAnnotation
from vision.annotations import Annotation, annotation_from_shape
from vision.geometry import project_points

# A mark may start a little outside the picture (a drag that overshoots the edge), not far.
EDGE_TOLERANCE = 0.02
MIN_POINTS = {"arrow": 2, "rect": 2, "circle": 2, "freehand": 2, "text": 1}
MAX_POINTS = {"arrow": 2, "rect": 2, "circle": 2, "freehand": 500, "text": 1}


def check_points(message: Annotate) -> None:
    """Refuse malformed or out-of-range marks with a message that says what was wrong."""
    width, height = message.frame_size
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise ProtocolError("invalid_annotation", f"frame_size {message.frame_size} is not a frame size")
    count = len(message.points_frame_px)
    low, high = MIN_POINTS[message.shape], MAX_POINTS[message.shape]
    if not low <= count <= high:
        wanted = f"{low}" if low == high else f"{low} to {high}"
        raise ProtocolError("invalid_annotation", f"a {message.shape} needs {wanted} points, got {count}")
    slack_x, slack_y = width * EDGE_TOLERANCE, height * EDGE_TOLERANCE
    for x, y in message.points_frame_px:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ProtocolError("invalid_annotation", "annotation points must be finite numbers")
        if not (-slack_x <= x <= width + slack_x and -slack_y <= y <= height + slack_y):
            raise ProtocolError(
                "out_of_range",
                f"point ({x:g}, {y:g}) is outside the {width}x{height} frame the mark was drawn on",
            )
    if message.shape == "text" and not (message.text and message.text.strip()):
        raise ProtocolError("invalid_annotation", "a text mark needs its text")
    if message.shape in ("arrow", "rect", "circle"):
        (x0, y0), (x1, y1) = message.points_frame_px
        if math.hypot(x1 - x0, y1 - y0) < 2:
            raise ProtocolError("invalid_annotation", f"the {message.shape} is too small to see (under 2 px)")


def frame_to_reference(points_frame_px: Sequence[Point], homography_ref_to_frame: np.ndarray) -> np.ndarray:
    """Map frame pixels to reference pixels through the inverse homography."""
    inverse = np.linalg.inv(np.asarray(homography_ref_to_frame, dtype=np.float64))
    return project_points(inverse, np.asarray(points_frame_px, dtype=np.float64))


def _points(array: np.ndarray) -> list[Point]:
    return [(round(float(x), 2), round(float(y), 2)) for x, y in array]


def rescale(message: Annotate, frame_size: tuple[int, int]) -> list[Point]:
    """The message's points in the pixels of a frame of ``frame_size`` (same picture, other size)."""
    sx = frame_size[0] / message.frame_size[0]
    sy = frame_size[1] / message.frame_size[1]
    return [(x * sx, y * sy) for x, y in message.points_frame_px]


def anchored_mark(
    mark_id: str,
    message: Annotate,
    homography_ref_to_frame: np.ndarray,
    frame_size: tuple[int, int],
    step_id: str | None,
) -> tuple[SessionAnnotation, Annotation]:
    """The mark in reference pixels, for the session and for vision to project."""
    drawn = rescale(message, frame_size)
    if message.shape == "rect":
        # A rectangle on the screen is a quadrilateral on the device: keep its four corners.
        (x0, y0), (x1, y1) = drawn
        drawn = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    ref = frame_to_reference(drawn, homography_ref_to_frame)
    if not np.all(np.isfinite(ref)):
        raise ProtocolError(
            "out_of_range", "the mark falls outside the device's plane; draw it on the device"
        )
    points = _points(ref)
    kept = SessionAnnotation(
        id=mark_id,
        shape=message.shape,
        anchored=True,
        points_ref_px=points,
        text=message.text,
        step_id=step_id,
    )
    return kept, annotation_from_shape(message.shape, points, message.text)


def pinned_mark(mark_id: str, message: Annotate, step_id: str | None) -> SessionAnnotation:
    """No device located: the mark stays where it was drawn on the screen, in fractions of the frame."""
    width, height = message.frame_size
    fractions = [(round(x / width, 4), round(y / height, 4)) for x, y in message.points_frame_px]
    return SessionAnnotation(
        id=mark_id,
        shape=message.shape,
        anchored=False,
        points_frame_fraction=fractions,
        text=message.text,
        step_id=step_id,
    )
