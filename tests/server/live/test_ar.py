"""When vision results become ``ar`` summaries in the event log (``ArSummaryPacer``), without a session."""

from __future__ import annotations

from server.live.ar import ArSummaryPacer

INTERVAL_S = 0.2


def test_the_first_result_is_logged_then_one_per_interval() -> None:
    pacer = ArSummaryPacer(INTERVAL_S)
    seen = [t for t in (10.0, 10.033, 10.1, 10.19, 10.21, 10.25, 10.45) if pacer.due(t, "locate", True)]
    assert seen == [10.0, 10.21, 10.45]


def test_a_step_change_is_logged_at_once_inside_the_interval() -> None:
    pacer = ArSummaryPacer(INTERVAL_S)
    assert pacer.due(5.0, "locate", True)
    assert not pacer.due(5.05, "locate", True)
    assert pacer.due(5.08, "find-header", True)
    # The interval starts again from the step's own summary.
    assert not pacer.due(5.2, "find-header", True)
    assert pacer.due(5.29, "find-header", True)


def test_the_device_found_or_lost_is_logged_at_once() -> None:
    pacer = ArSummaryPacer(INTERVAL_S)
    assert pacer.due(1.0, "locate", True)
    assert pacer.due(1.03, "locate", False)
    assert not pacer.due(1.06, "locate", False)
    assert pacer.due(1.1, "locate", True)


def test_without_a_procedure_the_step_is_none_and_pacing_still_holds() -> None:
    pacer = ArSummaryPacer(INTERVAL_S)
    assert pacer.due(0.0, None, False)
    assert not pacer.due(0.1, None, False)
    assert pacer.due(0.1, "locate", False)
