"""What a self-help customer does in their live session (``docs/self-help.md``): where they are in
the procedure, and a "Done" tap on a step the camera cannot check.

A self-help session is an ordinary live session with no expert in it yet and the procedure set from
the start (the run's case names it), so the step machine, vision and the event log are the session's
own (``ar.py``). The customer's tap moves a step only as the expert's "Mark done" would, and only
on a step whose completion is ``manual``: a step vision checks advances when vision sees it done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Conflict
from .session import LiveSession


@dataclass(frozen=True)
class StepPosition:
    """Where a session is in its procedure: the current step, the steps done, whether all are."""

    procedure_id: str | None
    step_id: str | None
    completed: tuple[str, ...]
    finished: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "procedure_id": self.procedure_id,
            "step_id": self.step_id,
            "completed": list(self.completed),
            "finished": self.finished,
        }


def step_position(live: LiveSession) -> StepPosition:
    ar = live.ar
    if ar.procedure is None or ar.steps is None:
        return StepPosition(None, None, (), False)
    return StepPosition(ar.procedure.id, ar.steps.current, tuple(ar.steps.completed), ar.steps.finished)


async def customer_done(live: LiveSession, step_id: str) -> StepPosition:
    """The customer tapped "Done" on ``step_id`` (the step their page shows). A second tap on a step
    already done changes nothing, so a double tap never skips the next step."""
    ar = live.ar
    if ar.procedure is None or ar.steps is None:
        raise Conflict("no procedure is running in this session")
    if step_id in ar.steps.completed:
        return step_position(live)
    if step_id != ar.steps.current:
        raise Conflict(f"the step {step_id!r} is not the current one ({ar.steps.current!r}); reload the page")
    if ar.procedure.step_rule(step_id) is not None:
        raise Conflict(
            "the camera checks this step: do what it says with the device in view, or tap 'Talk to an expert'"
        )
    await ar.step_command("complete", None, by="customer")
    return step_position(live)
