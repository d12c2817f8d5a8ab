"""Burn-in drawing of AR state onto a frame (exports, server-side burn-in). Drawing only: no detection.

Readable on a phone: line widths and text scale with the frame height, every shape has a dark
halo under its colour so it shows on light and dark devices alike, and labels are moved to stay
fully inside the frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vision.hands import Hand
from vision.projection import ProjectedAnnotation
from vision.types import FloatArray, ImageArray

OUTLINE_BGR = (80, 220, 80)
ANNOTATION_BGR = (0, 200, 255)
HAND_BGR = (255, 160, 60)
HALO_BGR = (0, 0, 0)
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


def _polyline(frame: ImageArray, points: FloatArray, closed: bool, colour: tuple[int, int, int]) -> None:
    t = _thickness(frame)
    pts = [_fixed(points)]
    cv2.polylines(frame, pts, closed, HALO_BGR, t + 2, cv2.LINE_AA, SHIFT_BITS)
    cv2.polylines(frame, pts, closed, colour, t, cv2.LINE_AA, SHIFT_BITS)


def _arrow(frame: ImageArray, points: FloatArray, colour: tuple[int, int, int]) -> None:
    t = _thickness(frame)
    start, end = (tuple(int(v) for v in _fixed(p).ravel()) for p in points[:2])
    for width, c in ((t + 2, HALO_BGR), (t, colour)):
        cv2.arrowedLine(frame, start, end, c, width, cv2.LINE_AA, SHIFT_BITS, tipLength=0.25)


def label_box(
    text: str, anchor_frame_px: FloatArray, frame_size: tuple[int, int], scale: float, thickness: int
) -> tuple[int, int, int, int]:
    """Top-left and size (x, y, w, h) of a label placed above its anchor and clamped inside the frame."""
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = thickness * 2
    box_w, box_h = w + 2 * pad, h + baseline + 2 * pad
    width, height = frame_size
    x = round(float(anchor_frame_px[0]) - box_w / 2)
    y = round(float(anchor_frame_px[1])) - box_h - pad
    x = min(max(x, 0), max(width - box_w, 0))
    y = min(max(y, 0), max(height - box_h, 0))
    return x, y, box_w, box_h


def _label(frame: ImageArray, text: str, anchor: FloatArray) -> None:
    scale = frame.shape[0] / 720
    thickness = max(1, round(frame.shape[0] / 360))
    x, y, w, h = label_box(text, anchor, (frame.shape[1], frame.shape[0]), scale, thickness)
    overlay = frame.copy()
    cv2.rectangle(overlay, (x, y), (x + w - 1, y + h - 1), (0, 0, 0), -1)
    cv2.addWeighted(overlay, 0.6, frame, 0.4, 0, dst=frame)
    pad = thickness * 2
    (_, text_h), _ = cv2.getTextSize(text, FONT, scale, thickness)
    cv2.putText(
        frame, text, (x + pad, y + pad + text_h), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA
    )


def draw_overlay(
    frame_bgr: ImageArray,
    outline_frame_px: FloatArray | None,
    annotations: Sequence[ProjectedAnnotation] = (),
    hands: Sequence[Hand] = (),
) -> ImageArray:
    """A copy of ``frame_bgr`` with the device outline, annotations (with labels) and hands drawn on."""
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
    for annotation in annotations:
        if annotation.label:
            _label(frame, annotation.label, annotation.label_at_frame_px)
    return frame
