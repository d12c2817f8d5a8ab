"""The retention policy: delete the recordings of sessions that ended more than N days ago.

A purge deletes the session's whole recording folder (media, event log, snapshots, exports), sets
its ``recording_status`` to ``purged`` and appends a line to the case's notes saying what went and
when, so the case still tells its story. :func:`expired_recordings` only looks (the dry run);
:func:`purge` deletes. Sessions not ended (created or live) are never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from ..clock import utcnow
from ..records.database import Database
from ..records.models import RepairSession
from ..records.sessions import mark_recording_purged
from ..records.vocabulary import PLAYABLE_RECORDINGS
from .files import recording_files

RETENTION_DAYS_ENV = "REPAIRSIGHT_RETENTION_DAYS"


@dataclass(frozen=True)
class ExpiredRecording:
    session_id: str
    case_id: str
    case_title: str
    started_at: datetime | None
    ended_at: datetime
    duration_s: float | None
    folder: Path
    size_bytes: int
    has_media: bool


def folder_size(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def expired_recordings(
    db: Database, recordings_dir: Path, older_than_days: int, now: datetime | None = None
) -> list[ExpiredRecording]:
    """Ended sessions whose end is more than ``older_than_days`` before ``now`` and whose recording
    folder is still there (oldest first)."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    found = []
    with db.session() as s:
        rows = s.scalars(
            select(RepairSession)
            .where(
                RepairSession.state == "ended",
                RepairSession.ended_at.is_not(None),
                RepairSession.ended_at < cutoff,
                RepairSession.recording_status != "purged",
            )
            .order_by(RepairSession.ended_at)
        ).all()
        for row in rows:
            files = recording_files(recordings_dir, row.id)
            if not files.directory.is_dir() and row.recording_status not in PLAYABLE_RECORDINGS:
                continue
            assert row.ended_at is not None
            duration = row.recording_duration_s
            if duration is None and row.started_at is not None:
                duration = (row.ended_at - row.started_at).total_seconds()
            found.append(
                ExpiredRecording(
                    row.id,
                    row.case_id,
                    row.case.title,
                    row.started_at,
                    row.ended_at,
                    duration,
                    files.directory,
                    folder_size(files.directory),
                    files.media.is_file(),
                )
            )
    return found


def describe_duration(seconds: float | None) -> str:
    if seconds is None:
        return "length unknown"
    if seconds < 60:
        return f"{round(seconds)} s"
    return f"{round(seconds / 60)} min"


def note_line(item: ExpiredRecording, older_than_days: int, today: datetime) -> str:
    """``2026-11-22: recording of session <id> (12 min, 2026-10-01) deleted by the retention policy
    (older than 30 days)``."""
    what = "recording" if item.has_media else "event log"
    started = (item.started_at or item.ended_at).date().isoformat()
    return (
        f"{today.date().isoformat()}: {what} of session {item.session_id} "
        f"({describe_duration(item.duration_s)}, {started}) deleted by the retention policy "
        f"(older than {older_than_days} days)"
    )


def purge(
    db: Database, items: list[ExpiredRecording], older_than_days: int, now: datetime | None = None
) -> list[str]:
    """Delete each item's folder, mark its session purged and note it on its case; returns the notes."""
    today = now or utcnow()
    notes = []
    for item in items:
        shutil.rmtree(item.folder, ignore_errors=True)
        line = note_line(item, older_than_days, today)
        if mark_recording_purged(db, item.session_id, line):
            notes.append(line)
    return notes
