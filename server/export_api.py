"""Exports of a session as downloads: ``GET /api/sessions/{id}/export.mp4[?burn_in=1]`` and
``GET /api/sessions/{id}/export.vtt`` (the step chapters), and what ``repairsight export`` shares.

An MP4 is made once, in a worker thread, and kept in the recording's folder (``exports/``) until
the recording or its event log changes; a second request for the same file while it is being
made waits for that one rather than starting another (``ExportJobs``). The recording is the only
input, so a purge (which deletes the folder) deletes the exports with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from procedures import ProcedureLibrary

from . import auth
from .api import slug
from .db import Database, RepairSession
from .errors import ApiError
from .eventlog import read_events
from .export import ExportError, ExportReport, export_recording
from .media.recorder import probe_duration_s
from .replay import EventReplay, chapters_webvtt
from .storage import RecordingFiles, recording_files

EXPORTS_FOLDER = "exports"


@dataclass(frozen=True)
class ExportSource:
    """A session's recording and what an export needs to know about its case."""

    session_id: str
    files: RecordingFiles
    recording_status: str
    procedure_id: str | None
    case_title: str


def export_source(db: Database, recordings_dir: Path, session_id: str) -> ExportSource:
    """Raises ``ApiError`` 404 for an unknown session."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise ApiError(404, "not_found", f"no session with id {session_id!r}; check the link")
        return ExportSource(
            session_id,
            recording_files(recordings_dir, session_id),
            row.recording_status,
            row.case.procedure_id,
            row.case.title,
        )


def export_problem(source: ExportSource) -> tuple[int, str] | None:
    """Why this session cannot be exported (HTTP status, message), or None if it can."""
    status = source.recording_status
    if status == "recording":
        return 409, "the session is still being recorded; export it once the session has ended"
    if status == "purged":
        return 404, "this session's recording was deleted by the retention policy (see the case notes)"
    if status == "declined":
        return 404, "this session has no recording: the customer declined it"
    if not source.files.media.is_file():
        return 404, "this session has no recording (nobody joined it, or it never started)"
    return None


def replay_of(source: ExportSource, procedures: ProcedureLibrary) -> EventReplay:
    events, _ = read_events(source.files.events)
    return EventReplay(events, procedures.get, source.procedure_id)


def chapters_text(source: ExportSource, procedures: ProcedureLibrary) -> str:
    duration_ms = int((probe_duration_s(source.files.media) or 0.0) * 1000)
    return chapters_webvtt(replay_of(source, procedures).chapters(duration_ms))


def cached_export(source: ExportSource, burn_in: bool) -> Path:
    name = "recording-burn-in.mp4" if burn_in else "recording.mp4"
    return source.files.directory / EXPORTS_FOLDER / name


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
        export_recording(source.files.media, out, replay_of(source, procedures), burn_in=burn_in)
    return out


class ExportJobs:
    """The exports being made, by output path, so concurrent requests share one."""

    def __init__(self) -> None:
        self._running: dict[Path, asyncio.Future[Path]] = {}

    async def run(self, key: Path, make: Callable[[], Path]) -> Path:
        future = self._running.get(key)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(make))
            self._running[key] = future
            future.add_done_callback(lambda _: self._running.pop(key, None))
        # Shielded: a client that gives up does not cancel the export; it is kept for the next one.
        return await asyncio.shield(future)


def _jobs(request: Request) -> ExportJobs:
    jobs = getattr(request.app.state, "export_jobs", None)
    if jobs is None:
        jobs = request.app.state.export_jobs = ExportJobs()
    return jobs


async def _checked_source(request: Request) -> ExportSource:
    await run_in_threadpool(auth.require_staff, request)
    source = await run_in_threadpool(
        export_source,
        request.app.state.db,
        request.app.state.settings.recordings_dir,
        request.path_params["session_id"],
    )
    problem = export_problem(source)
    if problem is not None:
        raise ApiError(problem[0], "not_found" if problem[0] == 404 else "conflict", problem[1])
    return source


async def export_mp4(request: Request) -> Response:
    source = await _checked_source(request)
    burn_in = request.query_params.get("burn_in", "0") not in ("", "0", "false", "no")
    procedures: ProcedureLibrary = request.app.state.procedures
    try:
        path = await _jobs(request).run(
            cached_export(source, burn_in), lambda: make_cached_export(source, procedures, burn_in)
        )
    except ExportError as exc:
        raise ApiError(409, "conflict", f"this recording cannot be exported: {exc}") from None
    suffix = "-overlay" if burn_in else ""
    filename = f"repairsight-{slug(source.case_title)}-{source.session_id}{suffix}.mp4"
    return FileResponse(path, media_type="video/mp4", filename=filename)


async def export_vtt(request: Request) -> Response:
    source = await _checked_source(request)
    text = await run_in_threadpool(chapters_text, source, request.app.state.procedures)
    return Response(text, media_type="text/vtt; charset=utf-8")


def report_lines(report: ExportReport) -> list[str]:
    """What a person should know about an export, one line each (the CLI prints them)."""
    lines = [
        f"{report.duration_s:.1f} s, {report.video_frames} video frames, "
        f"{report.audio_tracks} voice track(s) mixed into one AAC track"
    ]
    if report.burned_in_frames:
        lines.append(f"overlay drawn on {report.burned_in_frames} of {report.video_frames} frames")
    return lines + report.notes


def routes() -> list[Route]:
    return [
        Route("/api/sessions/{session_id}/export.mp4", export_mp4, methods=["GET"]),
        Route("/api/sessions/{session_id}/export.vtt", export_vtt, methods=["GET"]),
    ]
