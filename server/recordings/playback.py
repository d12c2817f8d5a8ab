"""What a recorded session's player needs: its rows, its timeline, the procedures it used, its
snapshots, and what a trainer should know before trusting it.

The event log is the AR layer's only source: the recording carries the customer's picture, never
burned-in marks. A log whose last line was cut off, a partial recording, a session without one:
each is a warning, never an error, so the player shows what there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procedures import ProcedureLibrary

from ..records.database import Database
from ..records.models import Case, RepairSession
from ..records.sessions import load_session_and_case
from .eventlog import read_events
from .files import RecordingFiles, recording_files
from .recorder import probe_duration_s
from .snapshots import Snapshot, list_snapshots
from .timeline import Chapter, Timeline, build_timeline

CUT_OFF_LOG = "the event log's last line was cut off (the server stopped while writing it) and was skipped"


@dataclass
class Playback:
    row: RepairSession
    case: Case
    timeline: Timeline
    chapters: list[Chapter]
    procedures: dict[str, dict[str, Any]]
    snapshots: list[Snapshot]
    warnings: list[str] = field(default_factory=list)
    events_cut_off: bool = False

    @property
    def procedure_ids(self) -> list[str]:
        return self.timeline.procedure_ids or ([self.case.procedure_id] if self.case.procedure_id else [])


def recording_end_ms(files: RecordingFiles, duration_s: float | None, timeline: Timeline) -> int:
    """Where the recording ends on its clock: the duration the server stored, else read from the file,
    else the last event's time (no media). The end of the last chapter, in the player and exports alike."""
    if duration_s is None and files.media.is_file():
        duration_s = probe_duration_s(files.media)
    if duration_s is not None:
        return round(duration_s * 1000)
    return max([timeline.last_t_ms, *(summary.t_ms for summary in timeline.ar)]) + 1


def load_timeline(files: RecordingFiles, case_procedure_id: str | None) -> tuple[Timeline, bool]:
    """A session's timeline and whether its log's last line was cut off."""
    events, cut_off = read_events(files.events)
    return build_timeline(events, case_procedure_id), cut_off


def load_playback(db: Database, recordings_dir: Path, library: ProcedureLibrary, session_id: str) -> Playback:
    """Blocking (database and files). Raises ``NotFound`` for an unknown session."""
    row, case = load_session_and_case(db, session_id)
    files = recording_files(recordings_dir, session_id)
    timeline, cut_off = load_timeline(files, case.procedure_id)
    end_ms = recording_end_ms(files, row.recording_duration_s, timeline)
    playback = Playback(
        row,
        case,
        timeline,
        timeline.chapters(end_ms, library.get),
        {},
        list_snapshots(files),
        recording_warnings(
            row.recording_status,
            row.recording_duration_s,
            files.media.is_file(),
            files.events.is_file(),
            cut_off,
        ),
        cut_off,
    )
    for procedure_id in playback.procedure_ids:
        loaded = library.get(procedure_id)
        if loaded is None:
            playback.warnings.append(
                f"procedure {procedure_id!r} is no longer loaded on this server: "
                "its steps' marks cannot be drawn"
            )
        else:
            playback.procedures[procedure_id] = loaded.to_json()
    return playback


def recording_warnings(
    status: str, duration_s: float | None, media_exists: bool, events_exist: bool, events_cut_off: bool
) -> list[str]:
    """What a trainer should know before trusting what the player shows."""
    warnings = []
    if status == "partial":
        ends = f": it ends at {duration_s:.1f} s" if duration_s is not None else ""
        warnings.append(f"the recording was cut off by a server stop{ends}")
    elif status == "declined":
        warnings.append("the customer declined the recording: there is no video, only the event log")
    elif status == "none":
        warnings.append("this session was not recorded (nobody consented, or no video arrived)")
    elif status == "recording":
        warnings.append("this session is still being recorded: the recording may end early")
    if status in ("complete", "partial") and not media_exists:
        warnings.append("the recording's file is missing from the server: only the event log can be shown")
    if not events_exist:
        warnings.append("this session has no event log: no steps, chat or marks to show")
    if events_cut_off:
        warnings.append(CUT_OFF_LOG)
    return warnings
