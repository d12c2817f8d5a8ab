"""Cases: create, read, list and change them. Blocking database work: call it through
``run_blocking`` from async code.

Each function is one unit of work (one transaction) and returns rows whose attributes, and the
relationships named in the docstring, can be read after the transaction closes. Mistakes raise
``server.errors`` domain errors whose message says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select

from ..errors import Invalid, NotFound
from .database import Database
from .models import Case, RepairSession
from .vocabulary import OUTCOMES, one_of

# Case fields that always hold a value (an empty string at most); a change may not set them to null.
NOT_NULLABLE = ("title", "customer_name", "customer_contact", "device_model", "notes", "status")
StepIdsOf = Callable[[str], tuple[str, ...] | None]


def case_not_found(case_id: str) -> NotFound:
    return NotFound(f"no case with id {case_id!r}; check the link or list /api/cases")


def load_case(db: Database, case_id: str) -> Case:
    """The case with its ``sessions`` loaded."""
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise case_not_found(case_id)
        _ = case.sessions
        return case


def list_cases(db: Database, offset: int = 0, limit: int | None = None) -> tuple[list[tuple[Case, int]], int]:
    """Cases newest first from ``offset`` (``limit`` of them; all without), each with its number of
    sessions, and how many cases there are in all."""
    with db.session() as s:
        total = int(s.scalar(select(func.count()).select_from(Case)) or 0)
        cases = s.scalars(
            select(Case).order_by(Case.created_at.desc(), Case.id).offset(offset).limit(limit)
        ).all()
        ids = [case.id for case in cases]
        per_case = (
            select(RepairSession.case_id, func.count())
            .where(RepairSession.case_id.in_(ids))
            .group_by(RepairSession.case_id)
        )
        counts = {case_id: count for case_id, count in s.execute(per_case)}
        return [(case, counts.get(case.id, 0)) for case in cases], total


def insert_case(db: Database, fields: Mapping[str, Any], user_id: str | None) -> Case:
    """A new open case from checked ``fields`` (title, customer, contact, device, notes, procedure)."""
    with db.session() as s:
        case = Case(**fields, created_by=user_id)
        s.add(case)
        s.flush()
        _ = case.sessions
        return case


def update_case(
    db: Database,
    case_id: str,
    changes: Mapping[str, Any],
    step_ids_of: StepIdsOf = lambda _procedure_id: None,
) -> Case:
    """Apply ``changes`` (field -> new value, only the fields sent). ``step_ids_of(procedure_id)``: the
    procedure's step ids (None if it is not loaded), to check ``fixed_by_step`` against."""
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise Invalid(f"{name}: cannot be null; leave it out to keep the current value")
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise case_not_found(case_id)
        for name, value in changes.items():
            setattr(case, name, value)
        if case.status == "closed" and case.outcome is None:
            raise Invalid(f"outcome: closing a case needs an outcome: {one_of(OUTCOMES)}")
        check_fixed_by_step(case, step_ids_of)
        s.flush()
        _ = case.sessions
        return case


def check_fixed_by_step(case: Case, step_ids_of: StepIdsOf) -> None:
    """``fixed_by_step``, checked on the case as it would be saved: a step of its procedure, and only
    with the outcome fixed_remotely."""
    step = case.fixed_by_step
    if step is None:
        return
    if case.outcome != "fixed_remotely":
        raise Invalid(
            f"fixed_by_step: a step fixed it only with the outcome fixed_remotely (the outcome is "
            f"{case.outcome or 'not set'}); send fixed_by_step null, or outcome fixed_remotely"
        )
    if case.procedure_id is None:
        raise Invalid(f"fixed_by_step: {step!r} names a step, but the case has no procedure_id; set one")
    steps = step_ids_of(case.procedure_id)
    if steps is None:
        raise Invalid(
            f"fixed_by_step: the case's procedure {case.procedure_id!r} is not loaded, so step {step!r} "
            "cannot be checked"
        )
    if step not in steps:
        raise Invalid(
            f"fixed_by_step: {step!r} is not a step of {case.procedure_id!r}; "
            f"its steps are {', '.join(steps)}"
        )


def set_case_procedure(db: Database, case_id: str, procedure_id: str | None) -> None:
    """The case remembers the procedure the expert picked, for the next session and for analytics."""
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is not None:
            case.procedure_id = procedure_id


def case_procedure(db: Database, case_id: str) -> str | None:
    with db.session() as s:
        case = s.get(Case, case_id)
        return case.procedure_id if case is not None else None
