"""Exports of a session's recording as a download: which sessions can be exported, the cached MP4,
the chapters ``.vtt``, and one job per file however many ask for it at once.

An MP4 is made once, in a worker thread, and kept in the recording's folder (``exports/``) until
the recording or its event log changes. The recording is the only input, so a purge (which deletes
the folder) deletes the exports with it. The HTTP routes and ``repairsight export`` both use this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from procedures import ProcedureLibrary

from ..errors import Conflict, DomainError, NotFound
from ..records.database import Database
from ..records.sessions import load_session_and_case
from .export import ExportReport, export_recording
from .files import RecordingFiles, recording_files
from .playback import load_timeline, recording_end_ms
from .replay import Replay
from .timeline import Timeline
from .webvtt import chapters_webvtt


@dataclass(frozen=True)
class ExportSource:
    """A session's recording and what an export needs to know about its case."""

    session_id: str
    files: RecordingFiles
    recording_status: str
    duration_s: float | None
    procedure_id: str | None
    case_title: str


def export_source(db: Database, recordings_dir: Path, session_id: str) -> ExportSource:
    """Raises ``NotFound`` for an unknown session."""
    row, case = load_session_and_case(db, session_id)
    return ExportSource(
        session_id,
        recording_files(recordings_dir, session_id),
        row.recording_status,
        row.recording_duration_s,
        case.procedure_id,
        case.title,
    )


def export_problem(source: ExportSource) -> DomainError | None:
    """Why this session cannot be exported, or None if it can."""
    status = source.recording_status
    if status == "recording":
        return Conflict("the session is still being recorded; export it once the session has ended")
    if status == "purged":
        return NotFound("this session's recording was deleted by the retention policy (see the case notes)")
    if status == "declined":
        return NotFound("this session has no recording: the customer declined it")
    if not source.files.media.is_file():
        return NotFound("this session has no recording (nobody joined it, or it never started)")
    return None


def check_exportable(source: ExportSource) -> None:
    problem = export_problem(source)
    if problem is not None:
        raise problem


def timeline_of(source: ExportSource) -> Timeline:
    timeline, _cut_off = load_timeline(source.files, source.procedure_id)
    return timeline


def chapters_text(source: ExportSource, procedures: ProcedureLibrary) -> str:
    """The ``.vtt`` of a session's step chapters (the same chapters the player shows)."""
    timeline = timeline_of(source)
    end_ms = recording_end_ms(source.files, source.duration_s, timeline)
    return chapters_webvtt(timeline.chapters(end_ms, procedures.get))


def export_to(
    source: ExportSource,
    procedures: ProcedureLibrary,
    out: Path,
    burn_in: bool,
    progress: Callable[[float, float], None] | None = None,
) -> ExportReport:
    """Blocking: write ``out`` (MP4), with the AR layer drawn in when ``burn_in``."""
    replay = Replay(timeline_of(source), procedures.get) if burn_in else None
    return export_recording(source.files.media, out, replay, progress=progress)


def cached_export(source: ExportSource, burn_in: bool) -> Path:
    return source.files.exports / ("recording-burn-in.mp4" if burn_in else "recording.mp4")


def is_fresh(path: Path, inputs: list[Path]) -> bool:
    """``path`` exists and is newer than every input that exists."""
    if not path.is_file():
        return False
    made = path.stat().st_mtime
    return all(made >= p.stat().st_mtime for p in inputs if p.exists())


def make_cached_export(source: ExportSource, procedures: ProcedureLibrary, burn_in: bool) -> Path:
    """The cached MP4, made now if missing or older than the recording. Blocking."""
    out = cached_export(source, burn_in)
    inputs = [source.files.media, source.files.events] if burn_in else [source.files.media]
    if not is_fresh(out, inputs):
        out.parent.mkdir(parents=True, exist_ok=True)
        export_to(source, procedures, out, burn_in)
    return out


def report_lines(report: ExportReport) -> list[str]:
    """What a person should know about an export, one line each (the CLI prints them)."""
    lines = [
        f"{report.duration_s:.1f} s, {report.video_frames} video frames, "
        f"{report.audio_tracks} voice track(s) mixed into one AAC track"
    ]
    if report.burned_in_frames:
        lines.append(f"overlay drawn on {report.burned_in_frames} of {report.video_frames} frames")
    return lines + report.notes
