"""Outcome figures per procedure and per step over a date range (``docs/analytics.md`` defines each).

Pure reads: the case and session rows, and the steps of each session's timeline (read from only the
lines of its event log that name steps). A log is read once per change (cached by path, size and
mtime): a dashboard over a few hundred hour-long sessions must not re-parse tens of MB on every
refresh.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from procedures import LoadedProcedure

from ..records.database import Database
from ..records.models import Case, RepairSession, SelfHelpLink, SelfHelpRun
from ..records.vocabulary import OUTCOMES
from .eventlog import EventType, read_events
from .files import recording_files
from .timeline import ProcedureLookup, build_timeline

# The only event types the figures need: the rest of a log (mostly AR summaries) is never parsed.
STEP_EVENTS = (EventType.PROCEDURE_CHOSEN, EventType.STEP_CHANGED, EventType.SESSION_ENDED)


StepSeconds = dict[tuple[str | None, str], float]


@lru_cache(maxsize=2048)
def _seconds_on_steps(
    path: str, _size: int, _mtime_ns: int, ended_at: datetime | None, case_procedure_id: str | None
) -> StepSeconds:
    events, _cut_off = read_events(Path(path), STEP_EVENTS)
    return build_timeline(events, case_procedure_id).seconds_on_steps(ended_at)


def seconds_on_steps(events: Path, ended_at: datetime | None, case_procedure_id: str | None) -> StepSeconds:
    """Seconds a session spent on each (procedure, step) (``Timeline.seconds_on_steps``), read once per
    change of its log (cached by path, size and mtime)."""
    try:
        stat = events.stat()
    except FileNotFoundError:
        return {}
    return dict(_seconds_on_steps(str(events), stat.st_size, stat.st_mtime_ns, ended_at, case_procedure_id))


def _rate(count: int, of: int) -> dict[str, Any]:
    return {"count": count, "of": of, "rate": count / of if of else None}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def date_range(day_from: date, day_to: date) -> tuple[datetime, datetime]:
    """Both days included: from 00:00 of the first to 00:00 after the last (UTC)."""
    return datetime.combine(day_from, time()), datetime.combine(day_to + timedelta(days=1), time())


ESCALATED = ("escalated", "picked_up")


def _run_end_step(run: SelfHelpRun, case: Case) -> str | None:
    """The step a run got to: where it escalated, or the step it was fixed on."""
    if run.state in ESCALATED:
        return run.step_reached
    if run.state == "fixed":
        return case.fixed_by_step
    return None


def _self_help_figures(
    step_ids: list[str], runs: list[tuple[SelfHelpRun, Case]]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The procedure's self-help figures, and each step's escalation rate (``docs/analytics.md``)."""
    fixed = sum(1 for run, _case in runs if run.state == "fixed")
    escalated = [run for run, _case in runs if run.state in ESCALATED]
    ends = [_run_end_step(run, case) for run, case in runs]
    order = {step_id: index for index, step_id in enumerate(step_ids)}
    per_step = {}
    for step_id in step_ids:
        here = sum(1 for run in escalated if run.step_reached == step_id)
        reached = sum(1 for end in ends if end in order and order[end] >= order[step_id])
        per_step[step_id] = {"escalations": here, "escalation_rate": _rate(here, reached)}
    figures = {
        "runs": len(runs),
        "self_resolved": _rate(fixed, len(runs)),
        "escalated": _rate(len(escalated), len(runs)),
    }
    return figures, per_step


def _procedure_figures(
    procedure_id: str,
    procedure: LoadedProcedure | None,
    cases: list[Case],
    sessions: list[RepairSession],
    recordings_dir: Path,
    runs: list[tuple[SelfHelpRun, Case]],
) -> dict[str, Any]:
    closed = [c for c in cases if c.status == "closed" and c.outcome is not None]
    outcomes = {name: sum(1 for c in closed if c.outcome == name) for name in OUTCOMES}
    first_time = sum(
        1
        for c in closed
        if c.outcome == "fixed_remotely" and sum(1 for s in c.sessions if s.state == "ended") == 1
    )
    durations = [(s.ended_at - s.started_at).total_seconds() for s in sessions if s.ended_at and s.started_at]
    reached: dict[str, int] = {}
    time_on: dict[str, list[float]] = {}
    for row in sessions:
        spent = seconds_on_steps(recording_files(recordings_dir, row.id).events, row.ended_at, procedure_id)
        for (shown_procedure, step_id), seconds in spent.items():
            if shown_procedure != procedure_id:
                continue  # a step of another procedure shown in this session is not this one's
            reached[step_id] = reached.get(step_id, 0) + 1
            time_on.setdefault(step_id, []).append(seconds)
    fixed_by = {c.fixed_by_step: 0 for c in closed if c.fixed_by_step}
    for c in closed:
        if c.fixed_by_step:
            fixed_by[c.fixed_by_step] += 1
    step_ids = list(procedure.step_ids()) if procedure is not None else []
    escalated_at = {run.step_reached for run, _case in runs if run.step_reached}
    step_ids += sorted((set(reached) | set(fixed_by) | escalated_at) - set(step_ids))
    self_help, per_step = _self_help_figures(step_ids, runs)
    resolution = [(c.closed_at - c.created_at).total_seconds() for c in closed if c.closed_at is not None]
    kept = sum(1 for c in closed if c.outcome != "sent_to_repair")
    steps = [
        {
            "step_id": step_id,
            "title": procedure.step(step_id).title
            if procedure is not None and step_id in procedure.step_ids()
            else step_id,
            "sessions_reached": reached.get(step_id, 0),
            "median_time_on_step_s": _median(time_on.get(step_id, [])),
            "fixed_by": fixed_by.get(step_id, 0),
            **per_step[step_id],
        }
        for step_id in step_ids
    ]
    return {
        "procedure_id": procedure_id,
        "title": procedure.spec.title if procedure is not None else procedure_id,
        "cases": len(cases),
        "sessions": len(sessions),
        "median_session_s": _median(durations),
        "closed_cases": len(closed),
        "outcomes": outcomes,
        "first_time_fix": _rate(first_time, len(closed)),
        "no_fault_found": _rate(outcomes["no_fault_found"], len(closed)),
        "median_time_to_resolution_s": _median(resolution),
        "closed_without_sending_in": _rate(kept, len(closed)),
        "self_help": self_help,
        "steps": steps,
    }


def analytics(
    db: Database,
    recordings_dir: Path,
    procedures: ProcedureLookup,
    day_from: date,
    day_to: date,
    procedure_id: str | None = None,
) -> dict[str, Any]:
    """The ``GET /api/analytics`` body. In range: ended sessions that started between the two days
    (both included); a case is in range when it has one of them; self-help runs that started
    between them (of their link's procedure)."""
    start, stop = date_range(day_from, day_to)
    with db.session() as s:
        query = (
            select(RepairSession)
            .join(Case)
            .where(
                RepairSession.state == "ended",
                RepairSession.started_at >= start,
                RepairSession.started_at < stop,
                Case.procedure_id.is_not(None),
                Case.source != "demo",  # a sample clip played by the server, no customer's case
            )
            .options(selectinload(RepairSession.case).selectinload(Case.sessions))
            .order_by(RepairSession.started_at)
        )
        if procedure_id:
            query = query.where(Case.procedure_id == procedure_id)
        sessions = list(s.scalars(query).all())
        run_query = (
            select(SelfHelpRun, Case, SelfHelpLink.procedure_id)
            .join(Case, Case.id == SelfHelpRun.case_id)
            .join(SelfHelpLink, SelfHelpLink.id == SelfHelpRun.link_id)
            .where(SelfHelpRun.started_at >= start, SelfHelpRun.started_at < stop)
            .order_by(SelfHelpRun.started_at, SelfHelpRun.id)
        )
        if procedure_id:
            run_query = run_query.where(SelfHelpLink.procedure_id == procedure_id)
        runs = [(run, case, pid) for run, case, pid in s.execute(run_query).all()]
    by_procedure: dict[str, tuple[dict[str, Case], list[RepairSession], list[tuple[SelfHelpRun, Case]]]] = {}
    for row in sessions:
        pid = row.case.procedure_id
        assert pid is not None
        cases, rows, _runs = by_procedure.setdefault(pid, ({}, [], []))
        cases[row.case_id] = row.case
        rows.append(row)
    for run, case, pid in runs:
        by_procedure.setdefault(pid, ({}, [], []))[2].append((run, case))
    figures = [
        _procedure_figures(pid, procedures(pid), list(cases.values()), rows, recordings_dir, procedure_runs)
        for pid, (cases, rows, procedure_runs) in by_procedure.items()
    ]
    figures.sort(key=lambda f: (str(f["title"]).lower(), f["procedure_id"]))
    return {"from": day_from.isoformat(), "to": day_to.isoformat(), "procedures": figures}
