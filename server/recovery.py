"""Start-up recovery: sessions that a crash or kill cut off are ended, their recordings kept.

A session still ``live`` when the server starts was not ended by anyone: the previous process
died. Its recording file was flushed as it went, so it plays up to its last cluster; it is
marked ``partial`` with the duration read from the file, and its event log gets a last line
saying what happened.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from .db import Database, RepairSession, utcnow
from .eventlog import utc_timestamp
from .media.recorder import probe_duration_s
from .storage import recording_files

END_REASON = "the server stopped during the session"


def _append_event(path: Path, event: dict[str, object]) -> None:
    if not path.exists():
        return
    with open(path, "ab") as log:
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            log.write(b"\n")  # the crash cut the last line; start clean after it
        log.write((json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8"))


def recover_unfinished_sessions(db: Database, recordings_dir: Path) -> list[str]:
    """Mark every session left ``live`` as ended; returns their ids."""
    recovered = []
    with db.session() as s:
        for row in s.scalars(select(RepairSession).where(RepairSession.state == "live")):
            files = recording_files(recordings_dir, row.id)
            row.state = "ended"
            row.ended_at = utcnow()
            row.end_reason = END_REASON
            if row.recording_status == "recording":
                duration = probe_duration_s(files.media)
                row.recording_status = "partial" if duration is not None else "none"
                row.recording_duration_s = duration
            _append_event(
                files.events,
                {
                    "at": utc_timestamp(),
                    "t_ms": None,
                    "type": "session_ended",
                    "reason": END_REASON,
                    "recovered": True,
                },
            )
            recovered.append(row.id)
    return recovered
