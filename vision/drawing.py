"""Burn-in drawing of AR state onto a frame (exports, server-side burn-in). Drawing only: no detection.

Readable on a phone: line widths and text scale with the frame height, every shape has a dark
halo under its colour so it shows on light and dark devices alike, and labels look as on the pages
(light text on a dark rounded box) and are placed by the same rule (:mod:`vision.labels`): inside
the frame, off each other, off the step's target and the marked parts, with a leader line to their
part when they had to move away from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vision.hands import Hand
from vision.labels import LabelRequest, PlacedLabel, Point, clearance_box, place_labels
from vision.projection import ProjectedAnnotation
from vision.types import FloatArray, ImageArray

OUTLINE_BGR = (80, 220, 80)
ANNOTATION_BGR = (0, 200, 255)
HAND_BGR = (255, 160, 60)
HALO_BGR = (0, 0, 0)
# The pages' label colours (client_web/js/overlay.js COLORS.labelBg, labelText), in BGR.
LABEL_BG_BGR = (24, 16, 10)
LABEL_BG_ALPHA = 0.88
LABEL_TEXT_BGR = (255, 255, 255)
ROUND_SEGMENTS = 4  # segments per rounded corner of a label box
FONT = cv2.FONT_HERSHEY_SIMPLEX
HAND_CONNECTIONS = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (5, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (9, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (13, 17),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
)
SHIFT_BITS = 4  # sub-pixel drawing: coordinates are passed to OpenCV times 2**4


def _fixed(points: FloatArray) -> np.ndarray:
    return (
        np.round(np.asarray(points, dtype=np.float64) * (1 << SHIFT_BITS)).astype(np.int32).reshape(-1, 1, 2)
    )


def _thickness(frame: ImageArray) -> int:
    return max(2, round(frame.shape[0] / 240))


def _polyline(
    frame: ImageArray,
    points: FloatArray,
    closed: bool,
    colour: tuple[int, int, int],
    width: int | None = None,
) -> None:
    t = _thickness(frame) if width is None else width
    pts = [_fixed(points)]
    cv2.polylines(frame, pts, closed, HALO_BGR, t + 2, cv2.LINE_AA, SHIFT_BITS)
    cv2.polylines(frame, pts, closed, colour, t, cv2.LINE_AA, SHIFT_BITS)


def _arrow(frame: ImageArray, points: FloatArray, colour: tuple[int, int, int]) -> None:
    t = _thickness(frame)
    start, end = (tuple(int(v) for v in _fixed(p).ravel()) for p in points[:2])
    for width, c in ((t + 2, HALO_BGR), (t, colour)):
        cv2.arrowedLine(frame, start, end, c, width, cv2.LINE_AA, SHIFT_BITS, tipLength=0.25)


def _label_style(frame_height: int) -> tuple[float, int]:
    """Font scale and stroke thickness of label text in a frame ``frame_height`` px high."""
    return frame_height / 720, max(1, round(frame_height / 360))


def _label_metrics(scale: float, thickness: int) -> tuple[int, int, int, int]:
    """Cap height, descent, horizontal and vertical padding of a label box. Measured on "Ag" so
    every label of a frame has the same height, descenders or not."""
    (_, text_h), descent = cv2.getTextSize("Ag", FONT, scale, thickness)
    return text_h, descent, max(3, round(text_h * 0.45)), max(2, round(text_h * 0.2))


def _label_text(text: str, max_width: int, scale: float, thickness: int) -> tuple[str, tuple[int, int]]:
    """``text`` (shortened with "..." to fit ``max_width`` px with its padding) and its box size."""
    text_h, descent, pad_x, pad_y = _label_metrics(scale, thickness)
    shown = text
    while True:
        (w, _), _ = cv2.getTextSize(shown, FONT, scale, thickness)
        if len(shown) <= 4 or w + 2 * pad_x <= max_width:
            return shown, (w + 2 * pad_x, text_h + descent + 2 * pad_y)
        shown = shown[:-4] + "..."


def _label_gap(frame_height: int) -> float:
    """Space between a label and its anchor, in frame px (:func:`vision.labels.place_labels`)."""
    return max(4.0, frame_height / 80)


def label_box(
    text: str, anchor_frame_px: FloatArray, frame_size: tuple[int, int], scale: float, thickness: int
) -> tuple[int, int, int, int]:
    """Top-left and size (x, y, w, h) of a label alone in the frame, placed by the label rule (above
    its anchor when there is room) and inside the frame."""
    width, height = frame_size
    _, size = _label_text(text, width, scale, thickness)
    anchor = (float(anchor_frame_px[0]), float(anchor_frame_px[1]))
    (placed,) = place_labels((0, 0, width, height), [LabelRequest(anchor, size)], [], _label_gap(height))
    return round(placed.box[0]), round(placed.box[1]), size[0], size[1]


def _rounded_box(box: tuple[int, int, int, int], radius: int) -> np.ndarray:
    """A rounded rectangle (x0, y0, x1, y1) as a polygon, in OpenCV's fixed point."""
    x0, y0, x1, y1 = box
    r = min(radius, (x1 - x0) // 2, (y1 - y0) // 2)
    points = []
    for cx, cy, start in (
        (x1 - r, y0 + r, -90),
        (x1 - r, y1 - r, 0),
        (x0 + r, y1 - r, 90),
        (x0 + r, y0 + r, 180),
    ):
        for step in range(ROUND_SEGMENTS + 1):
            angle = np.deg2rad(start + 90 * step / ROUND_SEGMENTS)
            points.append((cx + r * np.cos(angle), cy + r * np.sin(angle)))
    return _fixed(np.array(points))


def _label(
    frame: ImageArray, text: str, box: tuple[float, float, float, float], scale: float, thickness: int
) -> None:
    """A label as the pages draw it: dark rounded box (``LABEL_BG_ALPHA``) with an accent border,
    light text."""
    x0, y0, x1, y1 = (round(v) for v in box)
    text_h, _, pad_x, pad_y = _label_metrics(scale, thickness)
    radius = max(2, round(text_h * 0.35))
    outline = [_rounded_box((x0, y0, x1, y1), radius)]
    # Blend only the box's own pixels: this runs for every label of every burned-in frame.
    left, top = max(x0, 0), max(y0, 0)
    roi = frame[top : y1 + 1, left : x1 + 1]
    if roi.size:
        mask = np.zeros(roi.shape[:2], dtype=np.uint8)
        local = [_rounded_box((x0 - left, y0 - top, x1 - left, y1 - top), radius)]
        cv2.fillPoly(mask, local, 255, cv2.LINE_AA, SHIFT_BITS)
        alpha = mask.astype(np.float32)[..., None] * (LABEL_BG_ALPHA / 255)
        blended = roi * (1 - alpha) + np.array(LABEL_BG_BGR, dtype=np.float32) * alpha
        roi[:] = np.round(blended).astype(frame.dtype)
    cv2.polylines(frame, outline, True, ANNOTATION_BGR, max(1, thickness), cv2.LINE_AA, SHIFT_BITS)
    cv2.putText(
        frame, text, (x0 + pad_x, y0 + pad_y + text_h), FONT, scale, LABEL_TEXT_BGR, thickness, cv2.LINE_AA
    )


def _dot(frame: ImageArray, at: Point, radius: int) -> None:
    """A dot in the annotation colour with a dark halo (a text mark's point, a leader line's end)."""
    centre = tuple(int(v) for v in _fixed(np.array(at)).ravel())
    cv2.circle(frame, centre, (radius + 1) << SHIFT_BITS, HALO_BGR, -1, cv2.LINE_AA, SHIFT_BITS)
    cv2.circle(frame, centre, radius << SHIFT_BITS, ANNOTATION_BGR, -1, cv2.LINE_AA, SHIFT_BITS)


@dataclass(frozen=True)
class AnnotationLabel:
    """One annotation's label as the burn-in draws it: the text shown (shortened to fit), the point it
    names and where its box goes."""

    text: str
    anchor_frame_px: Point
    kind: str
    place: PlacedLabel


def place_annotation_labels(
    frame_size: tuple[int, int],
    annotations: Sequence[ProjectedAnnotation],
    target_frame_px: FloatArray | None = None,
) -> tuple[AnnotationLabel, ...]:
    """Where :func:`draw_overlay` puts the labels of ``annotations`` in a frame of ``frame_size`` (w, h):
    measured in OpenCV's font and placed by :func:`vision.labels.place_labels`, off each other, the
    target and the closed shapes."""
    width, height = frame_size
    scale, thickness = _label_style(height)
    labelled = [a for a in annotations if a.label]
    texts: list[str] = []
    requests: list[LabelRequest] = []
    for annotation in labelled:
        shown, size = _label_text(str(annotation.label), width, scale, thickness)
        anchor = annotation.label_at_frame_px
        texts.append(shown)
        requests.append(LabelRequest((float(anchor[0]), float(anchor[1])), size))
    shapes = [(a.kind, _points(a.points_frame_px), a.closed) for a in annotations]
    if target_frame_px is not None:
        shapes.append(("target", _points(target_frame_px), True))
    keep_clear = [box for box in (clearance_box(*shape) for shape in shapes) if box is not None]
    placed = place_labels((0, 0, width, height), requests, keep_clear, _label_gap(height))
    return tuple(
        AnnotationLabel(text, request.anchor, annotation.kind, place)
        for text, request, annotation, place in zip(texts, requests, labelled, placed, strict=True)
    )


def _labels(
    frame: ImageArray, annotations: Sequence[ProjectedAnnotation], target_frame_px: FloatArray | None
) -> None:
    """Every annotation's label, with a leader line where it had to move away from its part (leaders
    first, so no line crosses a label's text)."""
    height, width = frame.shape[:2]
    labels = place_annotation_labels((width, height), annotations, target_frame_px)
    t = _thickness(frame)
    for label in labels:
        if label.place.leader_to is not None:
            line = np.array([label.anchor_frame_px, label.place.leader_to], dtype=np.float64)
            _polyline(frame, line, False, ANNOTATION_BGR, t - 1)
        if label.kind == "label":
            _dot(frame, label.anchor_frame_px, t + 1)  # a text mark's point, as the pages draw it
        elif label.place.leader_to is not None:
            _dot(frame, label.anchor_frame_px, t)
    scale, thickness = _label_style(height)
    for label in labels:
        _label(frame, label.text, label.place.box, scale, thickness)


def _points(points: FloatArray) -> list[Point]:
    return [(float(x), float(y)) for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2)]


def draw_overlay(
    frame_bgr: ImageArray,
    outline_frame_px: FloatArray | None,
    annotations: Sequence[ProjectedAnnotation] = (),
    hands: Sequence[Hand] = (),
    target_frame_px: FloatArray | None = None,
) -> ImageArray:
    """A copy of ``frame_bgr`` with the device outline, annotations (with labels) and hands drawn on.

    ``target_frame_px``, the current step's target polygon (``ARState.target_frame_px``), is not
    drawn; labels keep off it."""
    frame = frame_bgr.copy()
    if outline_frame_px is not None:
        _polyline(frame, outline_frame_px, True, OUTLINE_BGR)
    for annotation in annotations:
        if annotation.kind == "arrow":
            _arrow(frame, annotation.points_frame_px, ANNOTATION_BGR)
        elif annotation.kind != "label":
            _polyline(frame, annotation.points_frame_px, annotation.closed, ANNOTATION_BGR)
    for hand in hands:
        pts = hand.landmarks_frame_px
        for a, b in HAND_CONNECTIONS:
            _polyline(frame, pts[[a, b]], False, HAND_BGR)
    _labels(frame, annotations, target_frame_px)
    return frame
