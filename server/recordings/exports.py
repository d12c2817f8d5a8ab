"""Exports of a session's recording as a download: which sessions can be exported, the cached MP4,
the chapters ``.vtt``, and one job per file however many ask for it at once.

The MP4 the HTTP routes serve is made once and kept in the recording's folder (``exports/``) until
the recording or its event log changes. The recording is the only input, so a purge (which deletes
the folder) deletes the exports with it. It is made in a child process of its own
(:func:`make_cached_export`, through :class:`~server.recordings.jobs.InChildProcess`): decoding,
burn-in drawing and encoding are native code, and a crash there must fail that one export, not end
every live call of the server. The child gets only what pickles (:class:`ExportSource`, and the
procedures as :class:`ProcedureFolders`, loaded again there). ``repairsight export`` is a process of
its own and exports in it (:func:`export_to`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from procedures import LoadedProcedure, ProcedureLibrary, ProcedureLoadError, load_procedure

from ..errors import Conflict, DomainError, NotFound
from ..records.database import Database
from ..records.sessions import load_session_and_case
from .export import ExportReport, export_recording
from .files import RecordingFiles, recording_files
from .jobs import InChildProcess
from .playback import load_timeline, recording_end_ms
from .replay import Replay
from .timeline import ProcedureLookup, Timeline
from .webvtt import chapters_webvtt

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class ProcedureFolders:
    """The folder of each procedure of a library, by id: the library as a child process can be given
    it. A :class:`~procedures.LoadedProcedure` holds a lock (and caches), so the library itself does
    not pickle; the child loads again, from the same folders, the procedures its export shows."""

    by_id: dict[str, Path]

    @classmethod
    def of(cls, library: ProcedureLibrary) -> ProcedureFolders:
        return cls({procedure_id: loaded.folder for procedure_id, loaded in library.procedures.items()})

    def lookup(self) -> ProcedureLookup:
        """Finds a procedure by id, loading it the first time it is asked for (an export shows one
        or two of the library's). One that no longer loads (its folder changed since the server
        started) is None: its steps are not drawn, as for a procedure the library does not have."""
        loaded: dict[str, LoadedProcedure | None] = {}

        def get(procedure_id: str) -> LoadedProcedure | None:
            if procedure_id not in loaded:
                folder = self.by_id.get(procedure_id)
                loaded[procedure_id] = None if folder is None else _load_again(folder)
            return loaded[procedure_id]

        return get


def _load_again(folder: Path) -> LoadedProcedure | None:
    try:
        return load_procedure(folder)
    except ProcedureLoadError as exc:
        logger.warning("%s: not loaded again for an export, its steps are not drawn: %s", folder, exc)
        return None


def export_to(
    source: ExportSource,
    procedures: ProcedureLibrary,
    out: Path,
    burn_in: bool,
    progress: Callable[[float, float], None] | None = None,
) -> ExportReport:
    """Blocking: write ``out`` (MP4), with the AR layer drawn in when ``burn_in``, in this process."""
    return _export(source, procedures.get, out, burn_in, progress)


def export_in_child(
    source: ExportSource, procedures: ProcedureFolders, out: Path, burn_in: bool
) -> ExportReport:
    """:func:`export_to` as the child process of :func:`make_cached_export` runs it."""
    return _export(source, procedures.lookup(), out, burn_in)


def _export(
    source: ExportSource,
    procedures: ProcedureLookup,
    out: Path,
    burn_in: bool,
    progress: Callable[[float, float], None] | None = None,
) -> ExportReport:
    replay = Replay(timeline_of(source), procedures) if burn_in else None
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
    """The cached MP4, made now if missing or older than the recording. Blocking: call it from a
    worker thread; it waits for a child process, which makes the file.

    A child that crashes raises :class:`~server.recordings.jobs.JobCrashed` here, and this process
    goes on. The child writes in a folder of its own beside the cache, which is removed whatever
    happens (a crashed child's ``finally`` never runs): no part of a file is left, and the next
    request starts afresh. Only a finished file is renamed into the cache. The folders a server
    killed while making this file left are removed first (nobody else makes it now: the caller is
    its one :class:`~server.recordings.jobs.FileJobs` job)."""
    out = cached_export(source, burn_in)
    inputs = [source.files.media, source.files.events] if burn_in else [source.files.media]
    if is_fresh(out, inputs):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".making-{out.name}-"
    for left in out.parent.glob(f"{prefix}*"):
        shutil.rmtree(left, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=out.parent) as making:
        made = Path(making) / out.name
        InChildProcess(export_in_child, source, ProcedureFolders.of(procedures), made, burn_in)()
        os.replace(made, out)
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
