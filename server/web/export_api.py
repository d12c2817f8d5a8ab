"""Exports as downloads: ``GET /api/sessions/{id}/export.mp4[?burn_in=1]`` and
``GET /api/sessions/{id}/export.vtt`` (the step chapters). The work is ``server/recordings/exports.py``'s.

An MP4 is made in a child process; one whose child crashed answers 500 ``export_failed`` (the server
and its calls go on, nothing of the file is kept, and the next request makes it again)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..errors import Conflict
from ..recordings.export import ExportError
from ..recordings.exports import (
    ExportSource,
    cached_export,
    chapters_text,
    check_exportable,
    export_source,
    make_cached_export,
)
from ..recordings.jobs import JobCrashed
from .auth import require_staff
from .errors import ApiError
from .operations import Binary, QueryParam, responds
from .presenters import slug
from .response_models import ErrorAnswer
from .state import services

FALSE_WORDS = ("", "0", "false", "no")
EXPORT_FAILED = (
    "the export failed while making the file; try again, and if it fails again, report it with the session id"
)


async def _checked_source(request: Request) -> ExportSource:
    await run_blocking(require_staff, request)
    found = services(request)
    source = await run_blocking(
        export_source, found.db, found.settings.recordings_dir, request.path_params["session_id"]
    )
    check_exportable(source)
    return source


@responds(
    Binary("video/mp4", "H.264 + AAC, both voices"),
    summary="The recording as MP4",
    access="staff",
    query=(QueryParam("burn_in", "1: draw the AR overlay in"),),
    also={500: ErrorAnswer},
)
async def export_mp4(request: Request) -> Response:
    source = await _checked_source(request)
    burn_in = request.query_params.get("burn_in", "0") not in FALSE_WORDS
    found = services(request)
    try:
        path = await found.jobs.run(
            cached_export(source, burn_in), lambda: make_cached_export(source, found.procedures, burn_in)
        )
    except ExportError as exc:
        raise Conflict(f"this recording cannot be exported: {exc}") from None
    except JobCrashed:
        raise ApiError(500, "export_failed", EXPORT_FAILED) from None  # the crash is logged
    suffix = "-overlay" if burn_in else ""
    filename = f"repairsight-{slug(source.case_title)}-{source.session_id}{suffix}.mp4"
    return FileResponse(path, media_type="video/mp4", filename=filename)


@responds(Binary("text/vtt", "WebVTT chapters, one cue per step"), summary="Step chapters", access="staff")
async def export_vtt(request: Request) -> Response:
    source = await _checked_source(request)
    text = await run_blocking(chapters_text, source, services(request).procedures)
    return Response(text, media_type="text/vtt; charset=utf-8")


def routes() -> list[Route]:
    return [
        Route("/api/sessions/{session_id}/export.mp4", export_mp4, methods=["GET"]),
        Route("/api/sessions/{session_id}/export.vtt", export_vtt, methods=["GET"]),
    ]
