"""Start-up recovery: sessions that a crash or kill cut off are ended, their recordings kept.

A session still ``live`` when the server starts was not ended by anyone: the previous process
died. Its recording file was flushed as it went, so it plays up to its last cluster; it is
marked ``partial`` with the duration read from the file, and its event log gets a last line
saying what happened.
"""

from __future__ import annotations

from pathlib import Path

from ..records.database import Database
from ..records.sessions import RecordingSummary, live_session_ids, mark_ended
from .eventlog import EventType, append_after_crash
from .files import recording_files
from .recorder import probe_duration_s

END_REASON = "the server stopped during the session"


def recover_unfinished_sessions(db: Database, recordings_dir: Path) -> list[str]:
    """End every session left ``live`` (its recording ``partial``); returns their ids."""
    recovered = []
    for session_id in live_session_ids(db):
        files = recording_files(recordings_dir, session_id)
        duration = probe_duration_s(files.media)
        summary = RecordingSummary(media_exists=duration is not None, duration_s=duration)
        if mark_ended(db, session_id, END_REASON, summary, cut_off=True):
            append_after_crash(files.events, EventType.SESSION_ENDED, reason=END_REASON, recovered=True)
            recovered.append(session_id)
    return recovered
