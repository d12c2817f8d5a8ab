"""Step completion as pure functions of the per-frame results over time.

Two rules from the procedure format: ``touch`` (the index fingertip inside the projected target
polygon for ``dwell_ms``) and ``visible`` (the device located for ``duration_ms``). Progress is a
small frozen record; :func:`advance` takes the old progress and this frame's observation and
returns the new progress and any events, so the rules are tested with hand-made inputs and no
video. Hand landmarks and the locator both flicker for a frame now and then, and the server
drops frames, so a condition may lapse for up to ``max_gap_ms`` without restarting the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np

from vision.geometry import points_in_front, project_points
from vision.hands import Hand
from vision.types import FloatArray


@dataclass(frozen=True)
class TouchRule:
    """Index fingertip inside ``target_ref_px`` (a polygon in reference px) for ``dwell_ms``."""

    target_ref_px: tuple[tuple[float, float], ...]
    dwell_ms: int = 1500
    max_gap_ms: int = 250

    def __post_init__(self) -> None:
        if len(self.target_ref_px) < 3:
            raise ValueError(
                f"touch target: a polygon needs at least 3 points, got {len(self.target_ref_px)}"
            )
        if self.dwell_ms < 0 or self.max_gap_ms < 0:
            raise ValueError("dwell_ms and max_gap_ms must be >= 0")


@dataclass(frozen=True)
class VisibleRule:
    """The device located for ``duration_ms``."""

    duration_ms: int = 1000
    max_gap_ms: int = 250

    def __post_init__(self) -> None:
        if self.duration_ms < 0 or self.max_gap_ms < 0:
            raise ValueError("duration_ms and max_gap_ms must be >= 0")


StepRule = TouchRule | VisibleRule


@dataclass(frozen=True)
class StepEvent:
    """What a step did at ``timestamp_ms``: its condition ``started`` or was ``lost``, or it ``completed``."""

    kind: Literal["started", "lost", "completed"]
    rule: Literal["touch", "visible"]
    timestamp_ms: int
    held_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "timestamp_ms": self.timestamp_ms,
            "held_ms": self.held_ms,
        }


@dataclass(frozen=True)
class StepProgress:
    """Where a rule stands: since when its condition has held, when it last held, whether done."""

    since_ms: int | None = None
    last_true_ms: int | None = None
    completed: bool = False

    def held_ms(self) -> int:
        if self.since_ms is None or self.last_true_ms is None:
            return 0
        return self.last_true_ms - self.since_ms


def target_frame_px(rule: TouchRule, homography_ref_to_frame: FloatArray) -> FloatArray | None:
    """The touch target polygon in frame px, or None when it is not (fully) in front of the camera."""
    target = np.array(rule.target_ref_px, dtype=np.float64)
    if not points_in_front(homography_ref_to_frame, target):
        return None
    return project_points(homography_ref_to_frame, target)


def fingertip_inside(polygon_frame_px: FloatArray, hands: Sequence[Hand]) -> bool:
    """True when any hand's index fingertip lies inside (or on) the polygon."""
    contour = np.asarray(polygon_frame_px, dtype=np.float32).reshape(-1, 1, 2)
    for hand in hands:
        x, y = (float(v) for v in hand.index_tip_frame_px)
        if cv2.pointPolygonTest(contour, (x, y), False) >= 0:
            return True
    return False


def advance(
    progress: StepProgress,
    condition: bool,
    timestamp_ms: int,
    required_ms: int,
    max_gap_ms: int,
    rule: Literal["touch", "visible"],
) -> tuple[StepProgress, tuple[StepEvent, ...]]:
    """The new progress after one frame whose condition was ``condition``, and the events it caused."""
    if progress.completed:
        return progress, ()
    events: list[StepEvent] = []
    if not condition:
        lapsed = progress.last_true_ms is not None and timestamp_ms - progress.last_true_ms > max_gap_ms
        if progress.since_ms is not None and lapsed:
            events.append(StepEvent("lost", rule, timestamp_ms, progress.held_ms()))
            return StepProgress(), tuple(events)
        return progress, ()
    if progress.since_ms is None:
        progress = StepProgress(since_ms=timestamp_ms, last_true_ms=timestamp_ms)
        events.append(StepEvent("started", rule, timestamp_ms, 0))
    else:
        progress = replace(progress, last_true_ms=timestamp_ms)
    if progress.held_ms() >= required_ms:
        progress = replace(progress, completed=True)
        events.append(StepEvent("completed", rule, timestamp_ms, progress.held_ms()))
    return progress, tuple(events)


def check_step(
    rule: StepRule,
    progress: StepProgress,
    timestamp_ms: int,
    homography_ref_to_frame: FloatArray | None,
    hands: Sequence[Hand],
) -> tuple[StepProgress, tuple[StepEvent, ...]]:
    """Apply ``rule`` to one frame's results (device homography or None, hands)."""
    if isinstance(rule, VisibleRule):
        return advance(
            progress,
            homography_ref_to_frame is not None,
            timestamp_ms,
            rule.duration_ms,
            rule.max_gap_ms,
            "visible",
        )
    polygon = None if homography_ref_to_frame is None else target_frame_px(rule, homography_ref_to_frame)
    touching = polygon is not None and fingertip_inside(polygon, hands)
    return advance(progress, touching, timestamp_ms, rule.dwell_ms, rule.max_gap_ms, "touch")


def step_rule_from_dict(completion: dict[str, Any], target: dict[str, Any] | None = None) -> StepRule | None:
    """The rule for a procedure step's ``completion`` (and ``target``); None for ``manual``."""
    kind = completion.get("kind")
    if kind == "manual":
        return None
    if kind == "visible":
        return VisibleRule(duration_ms=_ms(completion.get("duration_ms", 1000), "completion.duration_ms"))
    if kind == "touch":
        if not target or "polygon_ref_px" not in target:
            raise ValueError("a touch step needs target.polygon_ref_px")
        polygon = target["polygon_ref_px"]
        if not isinstance(polygon, list | tuple):
            raise ValueError(f"target.polygon_ref_px: expected a list of [x, y], got {polygon!r}")
        points = []
        for i, p in enumerate(polygon):
            if (
                not isinstance(p, list | tuple)
                or len(p) != 2
                or not all(
                    isinstance(c, int | float) and not isinstance(c, bool) and np.isfinite(c) for c in p
                )
            ):
                raise ValueError(
                    f"target.polygon_ref_px[{i}]: expected [x, y] with finite numbers, got {p!r}"
                )
            points.append((float(p[0]), float(p[1])))
        return TouchRule(tuple(points), dwell_ms=_ms(completion.get("dwell_ms", 1500), "completion.dwell_ms"))
    raise ValueError(f"completion.kind: expected manual, touch or visible, got {kind!r}")


def _ms(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field}: expected a whole number of milliseconds >= 0, got {value!r}")
    return value
