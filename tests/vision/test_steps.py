"""Step checks as pure functions of per-frame results."""

from __future__ import annotations

import numpy as np
import pytest

from vision.hands import Hand, HandLandmark
from vision.steps import StepProgress, TouchRule, VisibleRule, advance, check_step, step_rule_from_dict

TARGET = ((100.0, 100.0), (200.0, 100.0), (200.0, 150.0), (100.0, 150.0))


def hand_pointing_at(x: float, y: float) -> Hand:
    points = np.zeros((21, 2))
    points[HandLandmark.INDEX_FINGER_TIP] = (x, y)
    return Hand("Right", 0.99, points)


def run(rule, frames):  # type: ignore[no-untyped-def]
    progress, events = StepProgress(), []
    for t, homography, hands in frames:
        progress, new = check_step(rule, progress, t, homography, hands)
        events.extend(new)
    return progress, events


def test_touch_completes_after_dwell() -> None:
    rule = TouchRule(TARGET, dwell_ms=1000)
    inside = [hand_pointing_at(150, 120)]
    progress, events = run(rule, [(t, np.eye(3), inside) for t in range(0, 1100, 100)])
    assert progress.completed
    assert [e.kind for e in events] == ["started", "completed"]
    assert events[-1].timestamp_ms == 1000 and events[-1].held_ms == 1000


def test_touch_through_the_homography() -> None:
    shift = np.array([[1.0, 0, 300], [0, 1.0, 0], [0, 0, 1.0]])
    rule = TouchRule(TARGET, dwell_ms=0)
    assert not run(rule, [(0, shift, [hand_pointing_at(150, 120)])])[0].completed
    assert run(rule, [(0, shift, [hand_pointing_at(450, 120)])])[0].completed


def test_touch_restarts_after_a_long_gap_but_not_a_short_one() -> None:
    rule = TouchRule(TARGET, dwell_ms=1000, max_gap_ms=250)
    inside, away = [hand_pointing_at(150, 120)], [hand_pointing_at(10, 10)]
    frames = [
        (0, np.eye(3), inside),
        (500, np.eye(3), inside),
        (600, np.eye(3), away),
        (700, np.eye(3), inside),
    ]
    progress, events = run(rule, frames)
    assert progress.since_ms == 0 and not progress.completed
    frames += [(1000, np.eye(3), away), (1100, np.eye(3), inside)]
    progress, events = run(rule, frames)
    assert [e.kind for e in events] == ["started", "lost", "started"]
    assert progress.since_ms == 1100


def test_no_device_no_touch() -> None:
    rule = TouchRule(TARGET, dwell_ms=0)
    assert not run(rule, [(0, None, [hand_pointing_at(150, 120)])])[0].completed


def test_visible_rule_counts_located_time() -> None:
    rule = VisibleRule(duration_ms=300)
    progress, events = run(rule, [(0, np.eye(3), []), (200, np.eye(3), []), (300, np.eye(3), [])])
    assert progress.completed and events[-1].kind == "completed"
    assert not run(rule, [(0, None, []), (400, None, [])])[0].completed


def test_completed_stays_completed() -> None:
    progress = StepProgress(since_ms=0, last_true_ms=10, completed=True)
    assert advance(progress, False, 5000, 10, 0, "touch") == (progress, ())


def test_rules_from_procedure_dicts() -> None:
    rule = step_rule_from_dict(
        {"kind": "touch", "dwell_ms": 1500}, {"polygon_ref_px": [[1, 2], [3, 4], [5, 0]]}
    )
    assert isinstance(rule, TouchRule) and rule.dwell_ms == 1500 and rule.target_ref_px[1] == (3.0, 4.0)
    assert step_rule_from_dict({"kind": "manual"}) is None
    assert step_rule_from_dict({"kind": "visible", "duration_ms": 200}) == VisibleRule(200)
    with pytest.raises(ValueError, match="polygon_ref_px"):
        step_rule_from_dict({"kind": "touch"})
    with pytest.raises(ValueError, match=r"polygon_ref_px\[1\]"):
        step_rule_from_dict({"kind": "touch"}, {"polygon_ref_px": [[1, 2], [float("inf"), 4], [5, 0]]})
    with pytest.raises(ValueError, match="dwell_ms"):
        step_rule_from_dict({"kind": "touch", "dwell_ms": -1}, {"polygon_ref_px": [[1, 2], [3, 4], [5, 0]]})
    with pytest.raises(ValueError, match="completion.kind"):
        step_rule_from_dict({"kind": "telepathy"})
