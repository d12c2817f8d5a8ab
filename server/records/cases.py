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
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound
from . import webhook_events
from .database import Database
from .models import Case, RepairSession
from .vocabulary import FIXED_BY_STEP_OUTCOMES, OUTCOMES, CaseSource, Outcome, one_of

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


def insert_case(
    db: Database, fields: Mapping[str, Any], user_id: str | None, source: CaseSource = "console"
) -> Case:
    """A new open case from checked ``fields`` (title, customer, contact, device, notes, procedure,
    external reference, idempotency key): the one function every new case is made by."""
    with db.session() as s:
        case = Case(**fields, created_by=user_id, source=source)
        s.add(case)
        s.flush()
        webhook_events.case_created(s, case)
        _ = case.sessions
        return case


def insert_case_once(
    db: Database,
    fields: Mapping[str, Any],
    user_id: str | None,
    source: CaseSource,
    idempotency_key: str,
    fingerprint: str,
) -> tuple[Case, bool]:
    """The case made with ``idempotency_key``, and whether this call made it. The first call with a
    key makes the case; a later one with the same ``fingerprint`` (the same request) gets that case
    back; one with another fingerprint is a ``Conflict``. Two calls at once, on any process: the
    unique index on the key lets one insert, the other's insert fails and it reads the winner's."""
    keyed = {**fields, "idempotency_key": idempotency_key, "idempotency_fingerprint": fingerprint}
    existing = case_of_idempotency_key(db, idempotency_key)
    if existing is None:
        try:
            return insert_case(db, keyed, user_id, source), True
        except IntegrityError:
            existing = case_of_idempotency_key(db, idempotency_key)
            if existing is None:
                raise
    if existing.idempotency_fingerprint != fingerprint:
        raise Conflict(
            f"the Idempotency-Key {idempotency_key!r} was already used with another request (case "
            f"{existing.id}); send a new key for a new case, or the same request to get that case again"
        )
    return existing, False


def case_of_idempotency_key(db: Database, idempotency_key: str) -> Case | None:
    """The case made with ``idempotency_key`` (its ``sessions`` loaded), if any."""
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.idempotency_key == idempotency_key))
        if case is not None:
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
        was_closed = case.status == "closed"
        for name, value in changes.items():
            setattr(case, name, value)
        if case.status == "closed" and case.outcome is None:
            raise Invalid(f"outcome: closing a case needs an outcome: {one_of(OUTCOMES)}")
        check_fixed_by_step(case, step_ids_of)
        if case.status == "closed" and not was_closed:
            close_case(case, case.outcome, case.fixed_by_step)  # type: ignore[arg-type]
        elif case.status != "closed":
            case.closed_at = None
        s.flush()
        _ = case.sessions
        return case


def close_case(case: Case, outcome: Outcome, fixed_by_step: str | None) -> None:
    """Close ``case`` (a row in an open unit of work) with ``outcome``: every closing goes through here
    (the console's change, a self-help customer's "Yes, it is fixed")."""
    case.status = "closed"
    case.outcome = outcome
    case.fixed_by_step = fixed_by_step
    case.closed_at = utcnow()
    webhook_events.case_closed_if_now(case)


def check_fixed_by_step(case: Case, step_ids_of: StepIdsOf) -> None:
    """``fixed_by_step``, checked on the case as it would be saved: a step of its procedure, and only
    with an outcome that says a step fixed it (fixed_remotely, fixed_by_self_help)."""
    step = case.fixed_by_step
    if step is None:
        return
    if case.outcome not in FIXED_BY_STEP_OUTCOMES:
        raise Invalid(
            f"fixed_by_step: a step fixed it only with the outcome {one_of(FIXED_BY_STEP_OUTCOMES)} "
            f"(the outcome is {case.outcome or 'not set'}); send fixed_by_step null, or outcome "
            "fixed_remotely"
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
