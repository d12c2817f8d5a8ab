"""Sessions on a case: start one (the only answer with its customer link), read it, end it, and its
recording's files."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..recordings.files import recording_files
from ..recordings.jobs import JobCrashed
from ..recordings.voices import has_both_voices, mix_voices_job
from ..records.sessions import (
    check_not_ended,
    insert_session,
    load_session,
    load_session_and_case,
    mark_ended,
)
from .auth import EDITORS, require_role, require_staff
from .bodies import EndBody, parse_json
from .errors import ApiError
from .operations import Binary, responds
from .owners import end_session
from .presenters import presence_of, recording_json, session_json, slug
from .response_models import RecordingAnswer, SessionAnswer
from .state import services


@responds(
    SessionAnswer,
    summary="Start a session on a case (the only answer with its customer link)",
    access="editor",
    status=201,
    headers={"Cache-Control": "no-store"},
)
async def sessions_create(request: Request) -> dict[str, Any]:
    principal = await run_blocking(require_role, request, *EDITORS)
    found = services(request)
    row, link_token = await run_blocking(
        insert_session, found.db, request.path_params["case_id"], principal.user_id, found.settings.link_ttl_s
    )
    # The only answer with the customer link (and its QR code): the database keeps only its hash.
    made = session_json(request, row, await presence_of(request, [row]), link_token)
    return made


@responds(SessionAnswer, summary="A session", access="staff")
async def session_get(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    row = await run_blocking(load_session, services(request).db, request.path_params["session_id"])
    return session_json(request, row, await presence_of(request, [row]))


@responds(SessionAnswer, summary="End a session", access="editor", body=EndBody, body_optional=True)
async def session_end(request: Request) -> dict[str, Any]:
    """End a session: the process holding it tells both sides and finalises the recording; a session
    nobody joined yet is held by none, so its row is ended here."""
    await run_blocking(require_role, request, *EDITORS)
    session_id = request.path_params["session_id"]
    body = await parse_json(request, EndBody, empty_ok=True)
    found = services(request)
    await run_blocking(check_not_ended, found.db, session_id)
    if not await end_session(found, session_id, body.reason):
        await run_blocking(mark_ended, found.db, session_id, body.reason)
    row = await run_blocking(load_session, found.db, session_id)
    return session_json(request, row, await presence_of(request, [row]))


@responds(RecordingAnswer, summary="A session's recording", access="staff")
async def recording_get(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    row = await run_blocking(load_session, services(request).db, request.path_params["session_id"])
    return recording_json(request, row)


@responds(
    Binary("video/webm", "the recording (WebM; Range requests work)"),
    summary="A session's recording",
    access="staff",
)
async def recording_media(request: Request) -> Response:
    """The WebM, with both voices in its default audio track (mixed now, once, for a recording made
    before that was done at the end). FileResponse answers Range requests, so players can seek."""
    await run_blocking(require_staff, request)
    session_id = request.path_params["session_id"]
    found = services(request)
    row, case = await run_blocking(load_session_and_case, found.db, session_id)
    path = recording_files(found.settings.recordings_dir, session_id).media
    if not path.is_file():
        raise ApiError(404, "not_found", "this session has no recording (it was declined or never started)")
    if row.state == "ended" and not await run_blocking(has_both_voices, path):
        try:
            await found.jobs.run(path, mix_voices_job(path))
        except JobCrashed:
            pass  # logged; the file as it is still plays, with each voice on a track of its own
    return FileResponse(
        path, media_type="video/webm", filename=f"repairsight-{slug(case.title)}-{session_id}.webm"
    )


@responds(
    Binary("application/x-ndjson", "the event log, one JSON object a line"),
    summary="A session's event log",
    access="staff",
)
async def recording_events(request: Request) -> Response:
    await run_blocking(require_staff, request)
    session_id = request.path_params["session_id"]
    found = services(request)
    await run_blocking(load_session, found.db, session_id)
    path = recording_files(found.settings.recordings_dir, session_id).events
    if not path.is_file():
        raise ApiError(404, "not_found", "this session has no event log (nobody joined it)")
    return FileResponse(path, media_type="application/x-ndjson")


def routes() -> list[Route]:
    return [
        Route("/api/cases/{case_id}/sessions", sessions_create, methods=["POST"]),
        Route("/api/sessions/{session_id}", session_get, methods=["GET"]),
        Route("/api/sessions/{session_id}/end", session_end, methods=["POST"]),
        Route("/api/sessions/{session_id}/recording", recording_get, methods=["GET"]),
        Route("/api/sessions/{session_id}/recording/media", recording_media, methods=["GET"]),
        Route("/api/sessions/{session_id}/recording/events", recording_events, methods=["GET"]),
    ]
