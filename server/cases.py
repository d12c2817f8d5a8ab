"""Database work for cases and sessions. Blocking: the API runs these in the thread pool.

Each function is one unit of work (one transaction) and returns rows whose attributes,
and the relationships named in the docstring, can be read after the transaction closes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from .bodies import CaseCreate, CasePatch
from .db import Case, Database, RepairSession, utcnow
from .errors import ApiError

NOT_NULLABLE = ("title", "customer_name", "customer_contact", "device_model", "notes", "status")


def _case_not_found(case_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no case with id {case_id!r}; check the link or list /api/cases")


def _session_not_found(session_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no session with id {session_id!r}; check the link")


def load_case(db: Database, case_id: str) -> Case:
    """The case with its ``sessions`` loaded."""
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise _case_not_found(case_id)
        _ = case.sessions
        return case


def load_session(db: Database, session_id: str) -> RepairSession:
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise _session_not_found(session_id)
        return row


def list_cases(db: Database) -> list[tuple[Case, int]]:
    """Every case, newest first, with its number of sessions."""
    with db.session() as s:
        per_case = select(RepairSession.case_id, func.count()).group_by(RepairSession.case_id)
        counts = {case_id: count for case_id, count in s.execute(per_case)}
        cases = s.scalars(select(Case).order_by(Case.created_at.desc(), Case.id)).all()
        return [(case, counts.get(case.id, 0)) for case in cases]


def insert_case(db: Database, body: CaseCreate, user_id: str | None) -> Case:
    with db.session() as s:
        case = Case(**body.model_dump(), created_by=user_id)
        s.add(case)
        s.flush()
        _ = case.sessions
        return case


def update_case(
    db: Database,
    case_id: str,
    body: CasePatch,
    step_ids_of: Callable[[str], tuple[str, ...] | None] = lambda _procedure_id: None,
) -> Case:
    """``step_ids_of(procedure_id)``: the procedure's step ids (None if it is not loaded), to check
    ``fixed_by_step`` against."""
    changes = body.model_dump(include=body.model_fields_set)
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise ApiError(422, "invalid", f"{name}: cannot be null; leave it out to keep the current value")
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise _case_not_found(case_id)
        for name, value in changes.items():
            setattr(case, name, value)
        if case.status == "closed" and case.outcome is None:
            raise ApiError(
                422,
                "invalid",
                "outcome: closing a case needs an outcome: fixed_remotely, sent_to_repair, "
                "no_fault_found or unresolved",
            )
        check_fixed_by_step(case, step_ids_of)
        s.flush()
        _ = case.sessions
        return case


def check_fixed_by_step(case: Case, step_ids_of: Callable[[str], tuple[str, ...] | None]) -> None:
    """``fixed_by_step``, checked on the case as it would be saved: a step of its procedure, and only
    with the outcome fixed_remotely."""
    step = case.fixed_by_step
    if step is None:
        return
    if case.outcome != "fixed_remotely":
        raise ApiError(
            422,
            "invalid",
            f"fixed_by_step: a step fixed it only with the outcome fixed_remotely (the outcome is "
            f"{case.outcome or 'not set'}); send fixed_by_step null, or outcome fixed_remotely",
        )
    if case.procedure_id is None:
        raise ApiError(
            422, "invalid", f"fixed_by_step: {step!r} names a step, but the case has no procedure_id; set one"
        )
    steps = step_ids_of(case.procedure_id)
    if steps is None:
        raise ApiError(
            422,
            "invalid",
            f"fixed_by_step: the case's procedure {case.procedure_id!r} is not loaded, so step {step!r} "
            "cannot be checked",
        )
    if step not in steps:
        raise ApiError(
            422,
            "invalid",
            f"fixed_by_step: {step!r} is not a step of {case.procedure_id!r}; "
            f"its steps are {', '.join(steps)}",
        )


def insert_session(db: Database, case_id: str, user_id: str | None, link_ttl_s: int) -> RepairSession:
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise _case_not_found(case_id)
        if case.status == "closed":
            raise ApiError(
                409, "conflict", "this case is closed; reopen it (status open) before starting a new session"
            )
        row = RepairSession(
            case_id=case_id, created_by=user_id, token_expires_at=utcnow() + timedelta(seconds=link_ttl_s)
        )
        s.add(row)
        s.flush()
        return row


def check_not_ended(db: Database, session_id: str) -> None:
    if load_session(db, session_id).state == "ended":
        raise ApiError(409, "conflict", "this session has already ended; start a new one on the case")


def mark_ended(db: Database, session_id: str, reason: str) -> None:
    """End a session the live registry did not hold (nobody had joined yet): created -> ended."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is not None and row.state != "ended":
            row.state = "ended"
            row.ended_at = utcnow()
            row.end_reason = reason


def case_title_of(db: Database, session_id: str) -> str:
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise _session_not_found(session_id)
        return row.case.title
