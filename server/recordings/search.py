"""The recording library's search: cases and sessions from the database, chat and steps from the logs.

Chat text, the procedures chosen and the steps reached live only in each session's event log, so
they are copied into a small table (``search_entries``: session, time, kind, key, text, words),
and so are the searched fields of the session's case (title, device model, notes), so that one
word index answers a query for all of them (``records/search_text.py``: any script, whatever the
case and accents). A recorded session is (re)indexed whenever its log's size or modification time,
or its case's fields, differ from what was indexed (``search_indexed``), checked at each search:
that fills the index for sessions recorded before this module existed, picks up sessions as they
end and cases as they are edited, and needs no hook in the live session or the case's routes. A
stat per session per search is cheap next to the query itself.

Blocking (the database, files): the API runs these in the thread pool.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ..clock import iso
from ..records.database import Database
from ..records.models import Case, RepairSession
from ..records.models import search_entries as entries
from ..records.models import search_indexed as indexed
from ..records.search_text import indexed_words, words_match, words_of
from ..records.vocabulary import PLAYABLE_RECORDINGS
from .eventlog import read_events
from .files import recording_files
from .timeline import ProcedureLookup, Timeline, build_timeline, step_title

logger = logging.getLogger(__name__)

MAX_HITS_PER_SESSION = 5
# The case's fields a query searches, in the order ``matched_in`` names them.
CASE_FIELDS = ("title", "device_model", "notes")


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


def _case_signature(case: Case) -> str:
    fields = "\x1f".join(getattr(case, name) or "" for name in CASE_FIELDS)
    return hashlib.sha256(fields.encode()).hexdigest()


def _entries_of(session_id: str, timeline: Timeline) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "kind": "chat",
            "key": line.from_role,
            "text": line.text,
            "t_ms": line.t_ms,
            "words": indexed_words(line.text),
        }
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
                    "words": "",
                }
            )
        if shown.step_id is not None:
            rows.append(
                {
                    "kind": "step",
                    "key": shown.procedure_id,
                    "text": shown.step_id,
                    "t_ms": shown.t_ms,
                    "words": "",
                }
            )
    for procedure_id in timeline.procedure_ids:
        if procedure_id not in chosen:
            rows.append(
                {"kind": "procedure", "key": procedure_id, "text": procedure_id, "t_ms": 0, "words": ""}
            )
    return [{**row, "session_id": session_id} for row in rows]


def _case_entries(session_id: str, case: Case) -> list[dict[str, Any]]:
    return [
        {
            "session_id": session_id,
            "kind": "case",
            "key": name,
            "text": value,
            "t_ms": 0,
            "words": indexed_words(value),
        }
        for name in CASE_FIELDS
        if (value := getattr(case, name) or "")
    ]


def _replace(s: Session, session_id: str, kinds: ColumnElement[bool], rows: list[dict[str, Any]]) -> None:
    s.execute(delete(entries).where(entries.c.session_id == session_id, kinds))
    if rows:
        s.execute(insert(entries), rows)


def _lock_session(s: Session, session_id: str) -> None:
    """Hold the session's row until this transaction ends, so that one indexer at a time (re)builds
    its entries (PostgreSQL: ``SELECT ... FOR UPDATE``). SQLite has no row locks and SQLAlchemy
    leaves the clause out: there a second indexer may read before the first commits and redo its
    work, but SQLite runs one writer at a time, so the second's deletes come after the first's
    commit and find its rows: nothing is doubled."""
    s.execute(select(RepairSession.id).where(RepairSession.id == session_id).with_for_update())


def _index_session(
    db: Database, recordings_dir: Path, session_id: str, case: Case, known: tuple[str, str | None] | None
) -> bool:
    """(Re)build the entries of one session whose log or case changed since ``known`` (its
    ``search_indexed`` row's signatures when this search began); returns whether anything was. A
    log that is gone leaves the entries made from it.

    Two searches at once (threads, or server processes on one PostgreSQL database) may both find the
    session changed. Under PostgreSQL's READ COMMITTED, the second's delete of the old entries would
    wait for the first to commit, then miss the first's new ones (not in its snapshot), and its
    inserts would double them; and its insert of a first ``search_indexed`` row would hit the first's
    key. So the transaction first locks the session's row (``_lock_session``), then reads its
    ``search_indexed`` row again and writes only what still differs from it: the second waits for
    the first to commit, then skips what the first stored. Its delete of that row finds it, so its
    insert cannot meet that key: an ``IntegrityError`` here would be a bug, not a race to skip, and
    is not caught.

    What the entries and the row are built from (the log's rows, the case) is read before the lock;
    a search that read an older log or case than the other may replace the other's entries with
    older ones, and the next search, whose signatures then differ, indexes them again."""
    old_log, old_case = known if known is not None else ("", None)
    log = _signature(recording_files(recordings_dir, session_id).events)
    case_signature = _case_signature(case)
    log_rows = None
    if log is not None and log != old_log:
        events, _cut_off = read_events(recording_files(recordings_dir, session_id).events)
        log_rows = _entries_of(session_id, build_timeline(events))
    if log_rows is None and case_signature == old_case:
        return False
    with db.session() as s:
        _lock_session(s, session_id)
        # The row as it is now: another search may have stored some of this since ``known``.
        current = s.execute(
            select(indexed.c.signature, indexed.c.case_signature).where(indexed.c.session_id == session_id)
        ).first()
        current_log, current_case = current if current is not None else ("", None)
        if log == current_log:
            log_rows = None
        if log_rows is None and case_signature == current_case:
            logger.debug("session %s: indexed for search by another search meanwhile; skipped", session_id)
            return False
        if log_rows is not None:
            _replace(s, session_id, entries.c.kind != "case", log_rows)
        if case_signature != current_case:
            _replace(s, session_id, entries.c.kind == "case", _case_entries(session_id, case))
        s.execute(delete(indexed).where(indexed.c.session_id == session_id))
        s.execute(
            insert(indexed).values(
                session_id=session_id,
                signature=log if log_rows is not None else current_log,
                case_signature=case_signature,
            )
        )
    return True


def refresh_index(db: Database, recordings_dir: Path) -> int:
    """Index every recorded session whose event log is new or changed, or whose case's searched
    fields changed; returns how many were (re)indexed."""
    with db.session() as s:
        recorded = list(
            s.execute(
                select(RepairSession.id, Case)
                .join(Case, Case.id == RepairSession.case_id)
                .where(RepairSession.recording_status.in_(PLAYABLE_RECORDINGS))
            )
        )
        known = {row.session_id: (row.signature, row.case_signature) for row in s.execute(select(indexed))}
    count = 0
    for session_id, case in recorded:
        try:
            count += _index_session(db, recordings_dir, session_id, case, known.get(session_id))
        except OSError:
            logger.warning("session %s: its event log could not be read for the search index", session_id)
    return count


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
    title, through ``procedures``), else the first chat line matching ``q``, else the start. ``q``
    matches its words in that order, whatever their case and accents, the last one also as the start
    of a word (``records/search_text.py``); a ``q`` with no word in it (only punctuation or emoji)
    matches nothing."""
    words = words_of(query.q) if query.q else []
    if query.q and not words:
        return []
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
        case_hits: dict[str, set[str]] = {}
        if words:
            found_text = s.execute(
                select(entries.c.session_id, entries.c.kind, entries.c.key, entries.c.t_ms, entries.c.text)
                .where(
                    entries.c.kind.in_(("chat", "case")),
                    entries.c.session_id.in_(ids),
                    words_match(db.engine.dialect.name, words),
                )
                .order_by(entries.c.session_id, entries.c.t_ms, entries.c.id)
            )
            for session_id, kind, key, t_ms, text in found_text:
                if kind == "case":
                    case_hits.setdefault(session_id, set()).add(key)
                    continue
                hits = chat_hits.setdefault(session_id, [])
                if len(hits) < MAX_HITS_PER_SESSION:
                    hits.append({"t_ms": t_ms, "from_role": key, "text": text})
        procedures_of: dict[str, list[str]] = {}
        for session_id, procedure_id in s.execute(
            select(entries.c.session_id, entries.c.key)
            .where(entries.c.kind == "procedure", entries.c.session_id.in_(ids))
            .order_by(entries.c.t_ms)
        ):
            if procedure_id not in procedures_of.setdefault(session_id, []):
                procedures_of[session_id].append(procedure_id)

    results = []
    for row, case in rows:
        if query.step and row.id not in step_at:
            continue
        matched_in: list[str] = []
        if words:
            matched_in = [name for name in CASE_FIELDS if name in case_hits.get(row.id, ())]
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
