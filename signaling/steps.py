"""A procedure's step machine: which step is current, which are done, and who moved it.

Pure logic: the expert's commands and vision's completions come in, the new position comes
out. The expert can always override (go back, jump, mark done); vision only completes the
current step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .messages import ProtocolError

# Who moved a step: the expert, vision, the server (a procedure set at the start) or the customer
# (a "Done" tap when they run a procedure alone, docs/self-help.md).
Mover = Literal["expert", "vision", "server", "customer"]


@dataclass
class StepMachine:
    step_ids: tuple[str, ...]
    index: int = 0
    completed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.step_ids:
            raise ValueError("a procedure needs at least one step")

    @property
    def current(self) -> str:
        return self.step_ids[self.index]

    @property
    def finished(self) -> bool:
        return len(self.completed) == len(self.step_ids)

    def next(self) -> bool:
        """Go to the next step; False (and no change) at the last one."""
        if self.index + 1 >= len(self.step_ids):
            return False
        self.index += 1
        return True

    def previous(self) -> bool:
        if self.index == 0:
            return False
        self.index -= 1
        return True

    def jump(self, step_id: str | None) -> bool:
        if step_id not in self.step_ids:
            raise ProtocolError(
                "unknown_step", f"there is no step {step_id!r}; the steps are {', '.join(self.step_ids)}"
            )
        changed = self.step_ids.index(step_id) != self.index
        self.index = self.step_ids.index(step_id)
        return changed

    def complete(self) -> str:
        """Mark the current step done and move to the next one (if any); returns the step done."""
        done = self.current
        if done not in self.completed:
            self.completed.append(done)
        self.next()
        return done
