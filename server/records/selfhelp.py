"""Self-help: reusable links that run one procedure with no expert, and each customer's run of one.

A link (``SelfHelpLink``) is made per procedure and used by any number of customers until it is
revoked; only its token's sha256 is stored (``tokens.sha256_hex``, as API tokens are). Each use
starts a run (``SelfHelpRun``): a new case with one session, whose customer link is the run's
credential from then on. A run goes ``running -> fixed`` (the customer says it is fixed) or
``running -> escalated -> picked_up`` (the customer asks for an expert; one expert takes them, in one
atomic update, so two experts never both get the same customer).

Blocking database work: call it through ``run_blocking`` from async code.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from procedures import LoadedProcedure

from ..clock import utcnow
from ..errors import Conflict, NotFound
from . import webhook_events
from .cases import close_case, insert_case
from .database import Database
from .models import Case, RepairSession, SelfHelpLink, SelfHelpRun, User
from .sessions import insert_session
from .tokens import new_secret_token, sha256_hex
from .vocabulary import EscalationReason

SelfHelpLinkProblem = Literal["unknown", "revoked"]
# Finds a loaded procedure by id (``ProcedureLibrary.get``); None when it is not on the server.
ProcedureLookup = Callable[[str], LoadedProcedure | None]
# The rough wait a customer is told before any expert has picked anyone up.
DEFAULT_PICKUP_S = 120.0
# How many of the latest pick-ups the rough wait is the median of.
RECENT_PICKUPS = 20


@dataclass(frozen=True)
class RunStart:
    """What starting a run made: the run (with its case and session ids) and the session's customer
    link token, known in clear only here."""

    run: SelfHelpRun
    join_token: str


@dataclass(frozen=True)
class QueueEntry:
    """A customer waiting for an expert: their run, its case, and their place (1 = next)."""

    run: SelfHelpRun
    case: Case
    position: int


@dataclass(frozen=True)
class QueuePlace:
    """Where one run stands: its state, its place in the queue (None unless waiting) and a rough wait."""

    run: SelfHelpRun
    position: int | None
    estimated_wait_s: float | None
    picked_up_by: str | None


def link_not_found(link_id: str) -> NotFound:
    return NotFound(f"no self-help link with id {link_id!r}; list them with GET /api/self-help/links")


def run_not_found(what: str) -> NotFound:
    return NotFound(f"no self-help run {what}; it may have been started from a customer link instead")


# --- links ------------------------------------------------------------------------------------------


def create_link(
    db: Database, procedure_id: str, label: str, user_id: str | None, case_id: str | None = None
) -> tuple[SelfHelpLink, str]:
    """A new link for ``procedure_id`` (checked against the library by the caller) and its token,
    the only time the token is known in clear. ``case_id``: its runs go on that case."""
    token = new_secret_token()
    with db.session() as s:
        row = SelfHelpLink(
            procedure_id=procedure_id,
            token_sha256=sha256_hex(token),
            label=label,
            created_by=user_id,
            case_id=case_id,
        )
        s.add(row)
        s.flush()
        return row, token


def list_links(
    db: Database, offset: int, limit: int, procedure_id: str | None = None
) -> tuple[list[SelfHelpLink], int]:
    """Links newest first (revoked ones too), from ``offset``, and how many there are in all."""
    with db.session() as s:
        query = select(SelfHelpLink)
        if procedure_id is not None:
            query = query.where(SelfHelpLink.procedure_id == procedure_id)
        total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = s.scalars(
            query.order_by(SelfHelpLink.created_at.desc(), SelfHelpLink.id).offset(offset).limit(limit)
        ).all()
        return list(rows), total


def links_of_case(db: Database, case_id: str) -> list[SelfHelpLink]:
    """The links made with a case (``POST /api/cases``), oldest first."""
    with db.session() as s:
        query = select(SelfHelpLink).where(SelfHelpLink.case_id == case_id)
        return list(s.scalars(query.order_by(SelfHelpLink.created_at, SelfHelpLink.id)).all())


def revoke_link(db: Database, link_id: str) -> SelfHelpLink:
    """Stop a link working at once; revoking one already revoked keeps its first revocation time.
    Runs already started go on: the customer in one is not cut off."""
    with db.session() as s:
        row = s.get(SelfHelpLink, link_id)
        if row is None:
            raise link_not_found(link_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return row


def find_link(db: Database, token: str) -> tuple[SelfHelpLink | None, SelfHelpLinkProblem | None]:
    """The link a token opens, or why it opens none."""
    with db.session() as s:
        row = s.scalar(select(SelfHelpLink).where(SelfHelpLink.token_sha256 == sha256_hex(token)))
        if row is None:
            return None, "unknown"
        if row.revoked_at is not None:
            return row, "revoked"
        return row, None


# --- runs -------------------------------------------------------------------------------------------


def start_run(db: Database, link: SelfHelpLink, title: str, device_model: str, link_ttl_s: int) -> RunStart:
    """A customer starts the link's procedure: a new case (the procedure set, so the session's AR
    starts on it; ``source`` self_help), or the link's own case for a link made with a case through
    the API, a session on it, and the run that ties them to the link."""
    case_id = link.case_id
    if case_id is None:
        case_id = insert_case(
            db,
            {
                "title": f"Self-help: {title}"[:200],
                "device_model": device_model[:200],
                "procedure_id": link.procedure_id,
                "notes": f"Started by the customer from the self-help link {link.label or link.id}.",
            },
            None,
            "self_help",
        ).id
    session, join_token = insert_session(db, case_id, None, link_ttl_s)
    with db.session() as s:
        run = SelfHelpRun(link_id=link.id, case_id=case_id, session_id=session.id)
        s.add(run)
        s.flush()
        return RunStart(run, join_token)


def run_of_session(db: Database, session_id: str) -> SelfHelpRun:
    with db.session() as s:
        run = s.scalar(select(SelfHelpRun).where(SelfHelpRun.session_id == session_id))
        if run is None:
            raise run_not_found(f"for session {session_id!r}")
        return run


def escalate(
    db: Database,
    session_id: str,
    reason: EscalationReason,
    step_id: str | None,
    procedures: ProcedureLookup = lambda _procedure_id: None,
) -> SelfHelpRun:
    """The customer asks for an expert: the run joins the queue (asking again keeps its place).
    ``procedures`` names the step in the case's notes (:func:`step_named`)."""
    with db.session() as s:
        run = s.scalar(select(SelfHelpRun).where(SelfHelpRun.session_id == session_id))
        if run is None:
            raise run_not_found(f"for session {session_id!r}")
        if run.state == "fixed":
            raise Conflict("this run ended as fixed; open the link again to start a new one")
        if run.state == "running":
            run.state = "escalated"
            run.escalated_at = utcnow()
            run.escalation_reason = reason
            run.step_reached = step_id
            why = "asked for an expert" if reason == "asked" else "said the steps did not fix it"
            case = s.get(Case, run.case_id)
            if case is not None:
                step = step_named(procedures, case.procedure_id, step_id)
                _add_note(case, f"The customer {why} at step {step}.")
            webhook_events.case_escalated(s, run)
        return run


def _add_note(case: Case, line: str) -> None:
    """A line on the case's notes, so the case page tells what happened in the run."""
    case.notes = f"{case.notes.rstrip()}\n{line}" if case.notes.strip() else line


def step_named(procedures: ProcedureLookup, procedure_id: str | None, step_id: str | None) -> str:
    """A step as the case's notes name it: its number and title (``3, "Press the plug down"``), in the
    procedure's main language, as the staff's console shows its steps (these notes are staff's,
    written in English, not in the customer's language). Its id only when the procedure or the step
    is gone from the server; "(none)" when no step was reached."""
    if step_id is None:
        return "(none)"
    procedure = procedures(procedure_id) if procedure_id else None
    if procedure is None or step_id not in procedure.step_ids():
        return step_id
    number = procedure.step_ids().index(step_id) + 1
    return f'{number}, "{procedure.step(step_id).title}"'


def mark_fixed(
    db: Database,
    session_id: str,
    step_id: str | None,
    procedures: ProcedureLookup = lambda _procedure_id: None,
) -> SelfHelpRun:
    """The customer says it is fixed: the run is ``fixed`` and its case is closed as
    ``fixed_by_self_help`` with the step they were on (named in its notes through ``procedures``).
    Once an expert has them, closing is the expert's."""
    with db.session() as s:
        run = s.scalar(select(SelfHelpRun).where(SelfHelpRun.session_id == session_id))
        if run is None:
            raise run_not_found(f"for session {session_id!r}")
        if run.state == "picked_up":
            raise Conflict("an expert is with this customer now; the expert closes the case")
        if run.state == "fixed":
            return run
        run.state = "fixed"
        run.fixed_at = utcnow()
        case = s.get(Case, run.case_id)
        assert case is not None
        close_case(case, "fixed_by_self_help", step_id)
        step = step_named(procedures, case.procedure_id, step_id)
        _add_note(case, f"The customer said self-help fixed it, at step {step}.")
        return run


def pick_up(db: Database, run_id: str, user_id: str) -> SelfHelpRun:
    """An expert takes a waiting customer. One conditional update (``escalated -> picked_up``), so
    when two experts pick up at once, on any process, exactly one gets the customer and the other
    hears who did."""
    with db.session() as s:
        run = s.get(SelfHelpRun, run_id)
        if run is None:
            raise run_not_found(f"with id {run_id!r}")
        if run.session.state == "ended":
            raise Conflict("this customer has left (their session ended); they are no longer waiting")
        taken = s.execute(
            update(SelfHelpRun)
            .where(SelfHelpRun.id == run_id, SelfHelpRun.state == "escalated")
            .values(state="picked_up", picked_up_by=user_id, picked_up_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            s.refresh(run)
            return run
    raise _why_not_picked_up(db, run_id)


def _why_not_picked_up(db: Database, run_id: str) -> Conflict:
    with db.session() as s:
        run = s.get(SelfHelpRun, run_id)
        assert run is not None
        if run.state == "picked_up":
            who = s.get(User, run.picked_up_by) if run.picked_up_by else None
            name = who.username if who is not None else "another expert"
            return Conflict(f"{name} has already picked up this customer")
        return Conflict(f"this customer is not waiting for an expert (the run is {run.state})")


def _waiting(s: Session) -> list[tuple[SelfHelpRun, Case]]:
    query = (
        select(SelfHelpRun, Case)
        .join(Case, Case.id == SelfHelpRun.case_id)
        .join(RepairSession, RepairSession.id == SelfHelpRun.session_id)
        .where(SelfHelpRun.state == "escalated", RepairSession.state != "ended")
        .order_by(SelfHelpRun.escalated_at, SelfHelpRun.id)
    )
    return [(run, case) for run, case in s.execute(query).all()]


def waiting_queue(db: Database) -> list[QueueEntry]:
    """The customers waiting for an expert, longest waiting first (those who left are not)."""
    with db.session() as s:
        return [QueueEntry(run, case, index + 1) for index, (run, case) in enumerate(_waiting(s))]


def typical_pickup_s(db: Database) -> float:
    """The median wait of the latest pick-ups; ``DEFAULT_PICKUP_S`` before the first."""
    with db.session() as s:
        rows = s.execute(
            select(SelfHelpRun.escalated_at, SelfHelpRun.picked_up_at)
            .where(SelfHelpRun.picked_up_at.is_not(None), SelfHelpRun.escalated_at.is_not(None))
            .order_by(SelfHelpRun.picked_up_at.desc())
            .limit(RECENT_PICKUPS)
        ).all()
    waits = [(picked - escalated).total_seconds() for escalated, picked in rows if escalated and picked]
    return float(statistics.median(waits)) if waits else DEFAULT_PICKUP_S


def queue_place(db: Database, session_id: str) -> QueuePlace:
    """Where a customer's run stands: waiting at place N with a rough wait (N times the typical
    pick-up), or picked up (by whom), or neither."""
    with db.session() as s:
        run = s.scalar(select(SelfHelpRun).where(SelfHelpRun.session_id == session_id))
        if run is None:
            raise run_not_found(f"for session {session_id!r}")
        who = s.get(User, run.picked_up_by) if run.picked_up_by else None
        position = None
        if run.state == "escalated":
            ids = [waiting.id for waiting, _case in _waiting(s)]
            position = ids.index(run.id) + 1 if run.id in ids else None
    estimate = position * typical_pickup_s(db) if position is not None else None
    return QueuePlace(run, position, estimate, who.username if who is not None else None)
