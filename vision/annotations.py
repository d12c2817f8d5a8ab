"""Annotations as data: the shapes a procedure or an expert places on the device, in reference px.

The dict form is the procedure YAML / JSON form (docs/vision.md lists it); ``from_dict`` checks
every coordinate (finite numbers, right shapes) and says which field is wrong, so procedures/
and the server can pass untrusted input straight in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]

MAX_POLYLINE_POINTS = 256
MAX_LABEL_CHARS = 200


def _point(value: Any, field: str) -> Point:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{field}: expected [x, y], got {value!r}")
    coords = []
    for c in value:
        if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
            raise ValueError(f"{field}: coordinates must be finite numbers, got {value!r}")
        coords.append(float(c))
    return (coords[0], coords[1])


def _label(value: Any, field: str = "label") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected text, got {value!r}")
    if len(value) > MAX_LABEL_CHARS:
        raise ValueError(f"{field}: at most {MAX_LABEL_CHARS} characters, got {len(value)}")
    return value


def _point_dict(point: Point) -> list[float]:
    return [point[0], point[1]]


@dataclass(frozen=True)
class Rect:
    """Axis-aligned rectangle between two opposite corners (reference px)."""

    ref_px: tuple[Point, Point]
    label: str | None = None

    def __post_init__(self) -> None:
        (x0, y0), (x1, y1) = self.ref_px
        if x0 == x1 or y0 == y1:
            raise ValueError(f"rect: ref_px corners {self.ref_px} give an empty rectangle")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "rect", "ref_px": [_point_dict(p) for p in self.ref_px], "label": self.label}


@dataclass(frozen=True)
class Circle:
    centre_ref_px: Point
    radius_ref_px: float
    label: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.radius_ref_px) or self.radius_ref_px <= 0:
            raise ValueError(f"circle: radius_ref_px must be a positive number, got {self.radius_ref_px!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "circle",
            "centre_ref_px": _point_dict(self.centre_ref_px),
            "radius_ref_px": self.radius_ref_px,
            "label": self.label,
        }


@dataclass(frozen=True)
class Arrow:
    from_ref_px: Point
    to_ref_px: Point
    label: str | None = None

    def __post_init__(self) -> None:
        if self.from_ref_px == self.to_ref_px:
            raise ValueError("arrow: from_ref_px and to_ref_px are the same point")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "arrow",
            "from_ref_px": _point_dict(self.from_ref_px),
            "to_ref_px": _point_dict(self.to_ref_px),
            "label": self.label,
        }


@dataclass(frozen=True)
class Polyline:
    points_ref_px: tuple[Point, ...]
    closed: bool = False
    label: str | None = None

    def __post_init__(self) -> None:
        if not 2 <= len(self.points_ref_px) <= MAX_POLYLINE_POINTS:
            raise ValueError(
                f"polyline: needs 2..{MAX_POLYLINE_POINTS} points, got {len(self.points_ref_px)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "polyline",
            "points_ref_px": [_point_dict(p) for p in self.points_ref_px],
            "closed": self.closed,
            "label": self.label,
        }


@dataclass(frozen=True)
class Label:
    at_ref_px: Point
    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("label: text is empty")

    @property
    def label(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "label", "at_ref_px": _point_dict(self.at_ref_px), "text": self.text}


Annotation = Rect | Circle | Arrow | Polyline | Label


def annotation_from_dict(data: Any) -> Annotation:
    """Build and check one annotation from its dict form; ValueError says which field is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"annotation: expected a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    label = _label(data.get("label"))
    if kind == "rect":
        corners = data.get("ref_px")
        if not isinstance(corners, list | tuple) or len(corners) != 2:
            raise ValueError(f"rect.ref_px: expected [[x0, y0], [x1, y1]], got {corners!r}")
        return Rect((_point(corners[0], "rect.ref_px[0]"), _point(corners[1], "rect.ref_px[1]")), label)
    if kind == "circle":
        radius = data.get("radius_ref_px")
        if isinstance(radius, bool) or not isinstance(radius, int | float):
            raise ValueError(f"circle.radius_ref_px: expected a number, got {radius!r}")
        return Circle(_point(data.get("centre_ref_px"), "circle.centre_ref_px"), float(radius), label)
    if kind == "arrow":
        return Arrow(
            _point(data.get("from_ref_px"), "arrow.from_ref_px"),
            _point(data.get("to_ref_px"), "arrow.to_ref_px"),
            label,
        )
    if kind == "polyline":
        points = data.get("points_ref_px")
        if not isinstance(points, list | tuple):
            raise ValueError(f"polyline.points_ref_px: expected a list of [x, y], got {points!r}")
        if len(points) > MAX_POLYLINE_POINTS:
            raise ValueError(f"polyline: needs 2..{MAX_POLYLINE_POINTS} points, got {len(points)}")
        closed = data.get("closed", False)
        if not isinstance(closed, bool):
            raise ValueError(f"polyline.closed: expected true or false, got {closed!r}")
        pts = tuple(_point(p, f"polyline.points_ref_px[{i}]") for i, p in enumerate(points))
        return Polyline(pts, closed, label)
    if kind == "label":
        text = _label(data.get("text"), "label.text")
        if text is None:
            raise ValueError("label.text: required")
        return Label(_point(data.get("at_ref_px"), "label.at_ref_px"), text)
    raise ValueError(f"annotation.kind: expected rect, circle, arrow, polyline or label, got {kind!r}")


def annotation_from_shape(
    shape: str, points_ref_px: Sequence[Sequence[float]], text: str | None
) -> Annotation:
    """The annotation an expert's mark of ``shape`` stands for: arrow [from, to], circle [centre, a
    point on the rim], rect [its 4 corners on the device], freehand [points], text [anchor]. The one
    rule for a mark's geometry, live and on replay (``client_web/js/overlay.js`` mirrors it)."""
    points = [(float(x), float(y)) for x, y in points_ref_px]
    if shape == "arrow":
        return Arrow(points[0], points[1])
    if shape == "circle":
        return Circle(points[0], max(math.dist(points[0], points[1]), 1.0))
    if shape == "rect":
        return Polyline(tuple(points), closed=True)
    if shape == "freehand":
        return Polyline(tuple(points))
    if shape == "text":
        return Label(points[0], (text or "").strip())
    raise ValueError(f"unknown mark shape {shape!r}")
