"""Where annotation labels go: off each other, off the step's target and off the marked parts.

One rule, used by the burn-in (:mod:`vision.drawing`) and mirrored by the pages in
``client_web/js/labels.js``; ``tests/data/label_vectors.json`` holds cases both are tested against,
so a label sits in the same place, relative to its part, live and in an exported video. The rule is
plain arithmetic on boxes (``+ - * /``, ``min``, ``max``, comparisons; no rounding, no square roots),
so both languages compute the same numbers. Each side measures its own text (canvas and OpenCV
fonts differ) and passes the box sizes in.

Labels are placed one after another, in the order given (a procedure's order: its author lists the
important part first). For each, candidate boxes are tried around its anchor (the top of its shape)
ring by ring, at the distances ``gap + ring * (height + 2 * gap)``, in the order of
:data:`DIRECTIONS`. A candidate is first moved inside the bounds, then scored; the first with a
score of 0 is taken, and when there is none, the first with the lowest score (``clear`` is false).
The score adds up what the candidate, grown by half a gap, would spoil:

- the area it overlaps of the labels placed before it and of the keep-clear boxes (the step's
  target and every closed shape, its own included, see :func:`clearance_box`);
- a penalty for each label anchor it covers (what another label points at, and its own);
- when it needs a leader line (its box is more than ``LEADER_GAPS`` gaps from its anchor), a
  penalty for each placed label, keep-clear box and other anchor that line would run through (but
  not a box the anchor lies in or on: a line may cross the shape it names);
- a penalty for each leader placed before it that runs through the candidate.

A leader line goes from the anchor to the nearest point of the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]
Box = tuple[float, float, float, float]
"""left, top, right, bottom, in the caller's pixels (frame px here, element CSS px on the pages)."""

DIRECTIONS: tuple[tuple[int, int], ...] = (
    (0, -1),  # above, centred on the anchor
    (1, -1),  # above, reaching right from just left of the anchor
    (-1, -1),  # above, reaching left from just right of the anchor
    (1, 0),  # right, centred vertically
    (-1, 0),  # left, centred vertically
    (0, 1),  # below, centred
    (1, 1),  # below, reaching right
    (-1, 1),  # below, reaching left
)
"""The places tried around an anchor at each distance, in order, as (x, y) steps in screen axes. Above
and below, the box stays over the anchor (an upright leader line when it has to move away), so the
labels of parts in a row stack in rows in the parts' order rather than fanning out sideways."""

RINGS = 4
"""Distances tried: a label much further from its part reads as belonging to something else."""

LEADER_GAPS = 1.5
"""A box further than this many gaps from its anchor is joined to it by a leader line."""


@dataclass(frozen=True)
class LabelRequest:
    """A label to place: the point it names (``anchor``) and the size (w, h) of its box, padding included."""

    anchor: Point
    size: tuple[float, float]


@dataclass(frozen=True)
class PlacedLabel:
    """Where a label's box goes. ``leader_to``: the end on the box of the leader line from the anchor,
    None when the box is next to its anchor; ``clear``: false when no place spoiled nothing."""

    box: Box
    leader_to: Point | None
    clear: bool


def clearance_box(kind: str, points: Sequence[Point], closed: bool) -> Box | None:
    """The box a shape keeps free of labels: the bounds of a closed shape (rect, circle, closed polyline,
    a target polygon) of at least 3 points; None for arrows, open lines and text marks (their labels'
    anchors are kept clear instead)."""
    if kind in ("arrow", "label") or not closed or len(points) < 3:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _overlap(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height


def _crosses(a: Point, b: Point, box: Box) -> bool:
    """True when the segment a-b runs through the inside of ``box`` (Liang-Barsky clipping; touching
    an edge or a corner does not count)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    enter, leave = 0.0, 1.0
    for p, q in ((-dx, a[0] - box[0]), (dx, box[2] - a[0]), (-dy, a[1] - box[1]), (dy, box[3] - a[1])):
        if p == 0:
            if q <= 0:
                return False
        elif p < 0:
            enter = max(enter, q / p)
        else:
            leave = min(leave, q / p)
    return enter < leave


def _within(point: Point, box: Box) -> bool:
    """True when ``point`` is inside ``box`` or on its edge: the box of the shape a label names (its
    anchor is on top of it), which a leader line may cross to reach the label."""
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _inside(bounds: Box, box: Box) -> Box:
    """``box`` moved (not resized) into ``bounds``; flush left / top when it is larger."""
    width = box[2] - box[0]
    height = box[3] - box[1]
    left = max(min(box[0], bounds[2] - width), bounds[0])
    top = max(min(box[1], bounds[3] - height), bounds[1])
    return (left, top, left + width, top + height)


def _candidate(
    anchor: Point, size: tuple[float, float], direction: tuple[int, int], distance: float, gap: float
) -> Box:
    (ax, ay), (width, height), (dx, dy) = anchor, size, direction
    if dy == 0:
        left = ax + distance if dx > 0 else ax - distance - width
        top = ay - height / 2
    else:
        if dx == 0:
            left = ax - width / 2
        elif dx > 0:
            left = ax - gap
        else:
            left = ax + gap - width
        top = ay + distance if dy > 0 else ay - distance - height
    return (left, top, left + width, top + height)


def _nearest_on_box(box: Box, point: Point) -> Point:
    return (min(max(point[0], box[0]), box[2]), min(max(point[1], box[1]), box[3]))


def _leader_to(box: Box, anchor: Point, gap: float) -> Point | None:
    to = _nearest_on_box(box, anchor)
    dx, dy = to[0] - anchor[0], to[1] - anchor[1]
    limit = LEADER_GAPS * gap
    return to if dx * dx + dy * dy > limit * limit else None


def place_labels(
    bounds: Box, labels: Sequence[LabelRequest], keep_clear: Sequence[Box], gap_px: float
) -> tuple[PlacedLabel, ...]:
    """A place for every label, in order (the rule is in this module's docstring).

    ``bounds``: where labels may go (the picture); ``keep_clear``: boxes no label may cover (see
    :func:`clearance_box`); ``gap_px``: the space between a label and its anchor, the step between
    rings, and (half of it) the least space between two labels."""
    margin = gap_px / 2
    penalty = (2 * margin) * (2 * margin)
    anchors = [label.anchor for label in labels]
    placed: list[Box] = []
    leaders: list[tuple[Point, Point]] = []
    result: list[PlacedLabel] = []
    for index, label in enumerate(labels):
        others = [
            (x - margin, y - margin, x + margin, y + margin) for i, (x, y) in enumerate(anchors) if i != index
        ]
        best: PlacedLabel | None = None
        best_score = 0.0
        for ring in range(RINGS):
            distance = gap_px + ring * (label.size[1] + 2 * gap_px)
            for direction in DIRECTIONS:
                box = _inside(bounds, _candidate(label.anchor, label.size, direction, distance, gap_px))
                grown = (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
                score = 0.0
                for other in placed:
                    score += _overlap(grown, other)
                for region in keep_clear:
                    score += _overlap(grown, region)
                for x, y in anchors:
                    if grown[0] < x < grown[2] and grown[1] < y < grown[3]:
                        score += penalty
                for start, end in leaders:
                    if _crosses(start, end, grown):
                        score += penalty
                to = _leader_to(box, label.anchor, gap_px)
                if to is not None:
                    for crossed in (*placed, *keep_clear, *others):
                        if _crosses(label.anchor, to, crossed) and not _within(label.anchor, crossed):
                            score += penalty
                if best is None or score < best_score:
                    best, best_score = PlacedLabel(box, to, score == 0), score
                if score == 0:
                    break
            if best is not None and best.clear:
                break
        assert best is not None  # RINGS and DIRECTIONS are not empty
        placed.append(best.box)
        if best.leader_to is not None:
            leaders.append((label.anchor, best.leader_to))
        result.append(best)
    return tuple(result)
