"""The recording library's search: cases and sessions from the database, chat and steps from the logs.

Chat text, the procedures chosen and the steps reached live only in each session's event log, so
they are copied into a small table (``search_entries``: session, time, kind, key, text). A
session is (re)indexed whenever its log's size or modification time differs from what was
indexed (``search_indexed``), checked at each search: that fills the index for sessions recorded
before this module existed, picks up sessions as they end, and needs no hook in the live session.
A stat per session per search is cheap next to the query itself.

Blocking (the database, files): the API runs these in the thread pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select

from ..clock import iso
from ..records.database import Database
from ..records.models import Case, RepairSession
from ..records.models import search_entries as entries
from ..records.models import search_indexed as indexed
from ..records.vocabulary import PLAYABLE_RECORDINGS
from .eventlog import read_events
from .files import recording_files
from .timeline import ProcedureLookup, Timeline, build_timeline, step_title

logger = logging.getLogger(__name__)

MAX_HITS_PER_SESSION = 5


@dataclass(frozen=True)
class LibraryQuery:
    """Checked search parameters; ``None`` means "any". ``to`` is exclusive."""

    q: str | None = None
    procedure: str | None = None
    step: str | None = None
    outcome: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def parse_date(name: str, text: str, end_of_day: bool) -> datetime:
    """``2026-11-22`` or an ISO 8601 date-time (UTC, ``Z`` allowed); a bare date as ``to`` includes that day.

    Raises ``ValueError`` with a message that names the parameter and the expected form."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d")
            return day + timedelta(days=1) if end_of_day else datetime.combine(day.date(), time())
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name}: {text!r} is not a date; use YYYY-MM-DD (e.g. 2026-11-22) or an ISO 8601 date-time"
        ) from None
    if moment.tzinfo is not None:
        # The database keeps naive UTC.
        moment = (moment - (moment.utcoffset() or timedelta(0))).replace(tzinfo=None)
    return moment


def _signature(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _entries_of(session_id: str, timeline: Timeline) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"kind": "chat", "key": line.from_role, "text": line.text, "t_ms": line.t_ms}
        for line in timeline.chat
    ]
    chosen: set[str] = set()
    for shown in timeline.shown:
        if shown.procedure_id is not None and shown.procedure_id not in chosen:
            chosen.add(shown.procedure_id)
            rows.append(
                {
                    "kind": "procedure",
                    "key": shown.procedure_id,
                    "text": shown.procedure_id,
                    "t_ms": shown.t_ms,
                }
            )
        if shown.step_id is not None:
            rows.append(
                {"kind": "step", "key": shown.procedure_id, "text": shown.step_id, "t_ms": shown.t_ms}
            )
    for procedure_id in timeline.procedure_ids:
        if procedure_id not in chosen:
            rows.append({"kind": "procedure", "key": procedure_id, "text": procedure_id, "t_ms": 0})
    return [{**row, "session_id": session_id} for row in rows]


def index_session(db: Database, recordings_dir: Path, session_id: str) -> None:
    """(Re)build one session's entries from its event log, if the log changed since last time."""
    path = recording_files(recordings_dir, session_id).events
    signature = _signature(path)
    with db.session() as s:
        known = s.scalar(select(indexed.c.signature).where(indexed.c.session_id == session_id))
    if signature is None or known == signature:
        return
    events, _cut_off = read_events(path)
    rows = _entries_of(session_id, build_timeline(events))
    with db.session() as s:
        s.execute(delete(entries).where(entries.c.session_id == session_id))
        if rows:
            s.execute(insert(entries), rows)
        s.execute(delete(indexed).where(indexed.c.session_id == session_id))
        s.execute(insert(indexed).values(session_id=session_id, signature=signature))


def refresh_index(db: Database, recordings_dir: Path) -> int:
    """Index every session whose event log is new or changed; returns how many were (re)indexed."""
    with db.session() as s:
        session_ids = list(s.scalars(select(RepairSession.id)))
        known = {row.session_id: row.signature for row in s.execute(select(indexed))}
    count = 0
    for session_id in session_ids:
        signature = _signature(recording_files(recordings_dir, session_id).events)
        if signature is not None and known.get(session_id) != signature:
            try:
                index_session(db, recordings_dir, session_id)
            except OSError:
                logger.warning("session %s: its event log could not be read for the search index", session_id)
                continue
            count += 1
    return count


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _seconds(t_ms: int) -> str:
    return f"{t_ms / 1000:.3f}".rstrip("0").rstrip(".")


def _procedure_with_step(procedure_ids: list[str], step_id: str, procedures: ProcedureLookup) -> str | None:
    """The first of a session's procedures that has this step (its title comes from there)."""
    for procedure_id in procedure_ids:
        loaded = procedures(procedure_id)
        if loaded is not None and step_id in loaded.step_ids():
            return procedure_id
    return None


def search_library(
    db: Database,
    recordings_dir: Path,
    query: LibraryQuery,
    procedures: ProcedureLookup = lambda _procedure_id: None,
) -> list[dict[str, Any]]:
    """Recorded sessions (complete or partial) that match every given filter, newest first.

    Each result names the moment to open: the chapter of ``step`` when it is given (with the step's
    title, through ``procedures``), else the first chat line matching ``q``, else the start."""
    refresh_index(db, recordings_dir)
    when = func.coalesce(RepairSession.started_at, RepairSession.created_at)
    statement = (
        select(RepairSession, Case)
        .join(Case, Case.id == RepairSession.case_id)
        .where(RepairSession.recording_status.in_(PLAYABLE_RECORDINGS))
        .order_by(when.desc(), RepairSession.id)
    )
    if query.outcome:
        statement = statement.where(Case.outcome == query.outcome)
    if query.start:
        statement = statement.where(when >= query.start)
    if query.end:
        statement = statement.where(when < query.end)
    if query.procedure:
        chosen = select(entries.c.session_id).where(
            and_(entries.c.kind == "procedure", entries.c.key == query.procedure)
        )
        statement = statement.where(or_(RepairSession.id.in_(chosen), Case.procedure_id == query.procedure))
    with db.session() as s:
        rows = [(row, case) for row, case in s.execute(statement)]
        if not rows:
            return []
        ids = [row.id for row, _ in rows]
        step_at: dict[str, int] = {}
        if query.step:
            step_filter = and_(entries.c.kind == "step", entries.c.text == query.step)
            if query.procedure:
                step_filter = and_(step_filter, entries.c.key == query.procedure)
            found = s.execute(
                select(entries.c.session_id, func.min(entries.c.t_ms))
                .where(step_filter, entries.c.session_id.in_(ids))
                .group_by(entries.c.session_id)
            )
            step_at = {session_id: int(t_ms) for session_id, t_ms in found}
        chat_hits: dict[str, list[dict[str, Any]]] = {}
        if query.q:
            found_chat = s.execute(
                select(entries.c.session_id, entries.c.t_ms, entries.c.key, entries.c.text)
                .where(
                    entries.c.kind == "chat",
                    entries.c.session_id.in_(ids),
                    func.lower(entries.c.text).like(_like(query.q), escape="\\"),
                )
                .order_by(entries.c.session_id, entries.c.t_ms)
            )
            for session_id, t_ms, from_role, text in found_chat:
                hits = chat_hits.setdefault(session_id, [])
                if len(hits) < MAX_HITS_PER_SESSION:
                    hits.append({"t_ms": t_ms, "from_role": from_role, "text": text})
        procedures_of: dict[str, list[str]] = {}
        for session_id, procedure_id in s.execute(
            select(entries.c.session_id, entries.c.key)
            .where(entries.c.kind == "procedure", entries.c.session_id.in_(ids))
            .order_by(entries.c.t_ms)
        ):
            if procedure_id not in procedures_of.setdefault(session_id, []):
                procedures_of[session_id].append(procedure_id)

    results = []
    needle = query.q.lower() if query.q else None
    for row, case in rows:
        if query.step and row.id not in step_at:
            continue
        matched_in: list[str] = []
        if needle:
            for name, value in (
                ("title", case.title),
                ("device_model", case.device_model),
                ("notes", case.notes),
            ):
                if needle in (value or "").lower():
                    matched_in.append(name)
            if row.id in chat_hits:
                matched_in.append("chat")
            if not matched_in:
                continue
        hits = chat_hits.get(row.id, [])
        used = procedures_of.get(row.id) or ([case.procedure_id] if case.procedure_id else [])
        moment_of: dict[str, Any]
        if query.step:
            moment = step_at[row.id]
            owner = query.procedure or _procedure_with_step(used, query.step, procedures)
            title = step_title(procedures, owner, query.step)
            moment_of = {"why": "step", "step_id": query.step, "title": title}
        elif hits:
            moment, moment_of = hits[0]["t_ms"], {"why": "chat"}
        else:
            moment, moment_of = 0, {"why": "start"}
        results.append(
            {
                "session_id": row.id,
                "case_id": case.id,
                "case_title": case.title,
                "device_model": case.device_model,
                "outcome": case.outcome,
                "case_status": case.status,
                "procedures": used,
                "started_at": iso(row.started_at or row.created_at),
                "recording_status": row.recording_status,
                "duration_s": row.recording_duration_s,
                "matched_in": matched_in,
                "moment": {"t_ms": moment, **moment_of},
                "url": f"/playback/{row.id}#t={_seconds(moment)}",
                "chat_hits": [
                    {**hit, "url": f"/playback/{row.id}#t={_seconds(hit['t_ms'])}"} for hit in hits
                ],
            }
        )
    return results
