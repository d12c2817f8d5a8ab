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


def recover_session(db: Database, recordings_dir: Path, session_id: str) -> bool:
    """End one session its process left ``live`` (its recording ``partial``); False if it had ended.

    The caller makes sure no live process still holds it: start-up recovery of a process alone, or
    the survivor that took the session's lease after its owner died (``server/cluster/``)."""
    files = recording_files(recordings_dir, session_id)
    duration = probe_duration_s(files.media)
    summary = RecordingSummary(media_exists=duration is not None, duration_s=duration)
    if not mark_ended(db, session_id, END_REASON, summary, cut_off=True):
        return False
    append_after_crash(files.events, EventType.SESSION_ENDED, reason=END_REASON, recovered=True)
    return True


def recover_unfinished_sessions(db: Database, recordings_dir: Path) -> list[str]:
    """End every session left ``live`` (one process alone, at start-up); returns their ids."""
    return [s for s in live_session_ids(db) if recover_session(db, recordings_dir, s)]
