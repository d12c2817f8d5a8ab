"""Annotations mapped from reference pixels into a frame through the device homography.

Straight lines stay straight under a homography, so rectangles, arrows and polylines project
exactly by their vertices; a circle becomes an ellipse-like polygon of its projected rim. The
result is plain frame-pixel geometry that clients and the burn-in drawer can use as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.annotations import Annotation, Arrow, Circle, Label, Polyline, Rect
from vision.geometry import points_in_front, project_points
from vision.types import FloatArray

CIRCLE_SEGMENTS = 32


@dataclass(frozen=True)
class ProjectedAnnotation:
    """One annotation in frame px. ``points_frame_px``: rect -> 4 corners (closed), circle ->
    ``CIRCLE_SEGMENTS`` rim points (closed), arrow -> [from, to], polyline -> its points,
    label -> [anchor]. ``label_at_frame_px`` is where its text goes."""

    kind: str
    points_frame_px: FloatArray
    closed: bool
    label: str | None
    label_at_frame_px: FloatArray

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "points_frame_px": np.round(self.points_frame_px, 2).tolist(),
            "closed": self.closed,
            "label": self.label,
            "label_at_frame_px": np.round(self.label_at_frame_px, 2).tolist(),
        }


def annotation_points_ref_px(annotation: Annotation) -> tuple[FloatArray, bool]:
    """The vertices that represent ``annotation`` in reference px, and whether they close."""
    if isinstance(annotation, Rect):
        (x0, y0), (x1, y1) = annotation.ref_px
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64), True
    if isinstance(annotation, Circle):
        angles = np.linspace(0, 2 * math.pi, CIRCLE_SEGMENTS, endpoint=False)
        cx, cy = annotation.centre_ref_px
        r = annotation.radius_ref_px
        return np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)]), True
    if isinstance(annotation, Arrow):
        return np.array([annotation.from_ref_px, annotation.to_ref_px], dtype=np.float64), False
    if isinstance(annotation, Polyline):
        return np.array(annotation.points_ref_px, dtype=np.float64), annotation.closed
    if isinstance(annotation, Label):
        return np.array([annotation.at_ref_px], dtype=np.float64), False
    raise TypeError(f"not an annotation: {annotation!r}")


def project_annotation(
    annotation: Annotation, homography_ref_to_frame: FloatArray
) -> ProjectedAnnotation | None:
    """``annotation`` in frame px, or None when part of it lies behind the camera."""
    points_ref, closed = annotation_points_ref_px(annotation)
    if not points_in_front(homography_ref_to_frame, points_ref):
        return None
    points = project_points(homography_ref_to_frame, points_ref)
    if isinstance(annotation, Arrow | Label):
        anchor = points[0]
    elif isinstance(annotation, Rect | Circle):
        # Above the shape: the top-most projected point.
        anchor = points[int(np.argmin(points[:, 1]))]
    else:
        anchor = points[0]
    kind = "label" if isinstance(annotation, Label) else annotation.to_dict()["kind"]
    return ProjectedAnnotation(kind, points, closed, annotation.label, anchor.copy())


def project_annotations(
    annotations: tuple[Annotation, ...], homography_ref_to_frame: FloatArray
) -> tuple[ProjectedAnnotation, ...]:
    """Every annotation that can be shown, in frame px, in order."""
    projected = (project_annotation(a, homography_ref_to_frame) for a in annotations)
    return tuple(p for p in projected if p is not None)
