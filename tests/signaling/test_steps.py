"""The step machine: expert commands and vision completions."""

from __future__ import annotations

import pytest

from signaling import ProtocolError
from signaling.steps import StepMachine


def machine() -> StepMachine:
    return StepMachine(("locate", "unplug", "press", "check"))


def test_next_and_previous_stop_at_the_ends() -> None:
    steps = machine()
    assert steps.current == "locate"
    assert steps.previous() is False and steps.current == "locate"
    assert steps.next() and steps.next() and steps.next()
    assert steps.current == "check"
    assert steps.next() is False and steps.current == "check"
    assert steps.previous() and steps.current == "press"


def test_jump_to_any_step_and_refuse_unknown_ones() -> None:
    steps = machine()
    assert steps.jump("press") is True and steps.index == 2
    assert steps.jump("press") is False
    with pytest.raises(ProtocolError) as caught:
        steps.jump("teleport")
    assert caught.value.code == "unknown_step" and "locate, unplug, press, check" in caught.value.message
    with pytest.raises(ProtocolError):
        steps.jump(None)
    assert steps.current == "press"  # a refused jump changes nothing


def test_completing_moves_on_and_remembers_what_was_done() -> None:
    steps = machine()
    assert steps.complete() == "locate"
    assert steps.current == "unplug" and steps.completed == ["locate"]
    steps.jump("check")
    assert steps.complete() == "check"
    assert steps.current == "check"  # the last step stays current once done
    assert steps.completed == ["locate", "check"] and not steps.finished
    steps.jump("locate")
    assert steps.complete() == "locate"
    assert steps.completed == ["locate", "check"]  # not counted twice


def test_a_procedure_needs_steps() -> None:
    with pytest.raises(ValueError):
        StepMachine(())
