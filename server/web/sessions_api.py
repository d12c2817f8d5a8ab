"""Sessions on a case: start one, read it, end it, its recording's files and its customer link as QR."""

from __future__ import annotations

import functools
import io

import segno
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..recordings.files import recording_files
from ..recordings.voices import add_both_voices, has_both_voices
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
from .owners import end_session
from .presenters import customer_url, presence_of, recording_json, session_json, slug
from .state import services


async def sessions_create(request: Request) -> JSONResponse:
    principal = await run_blocking(require_role, request, *EDITORS)
    found = services(request)
    row = await run_blocking(
        insert_session, found.db, request.path_params["case_id"], principal.user_id, found.settings.link_ttl_s
    )
    return JSONResponse(session_json(request, row, await presence_of(request, [row])), status_code=201)


async def session_get(request: Request) -> JSONResponse:
    await run_blocking(require_staff, request)
    row = await run_blocking(load_session, services(request).db, request.path_params["session_id"])
    return JSONResponse(session_json(request, row, await presence_of(request, [row])))


async def session_end(request: Request) -> JSONResponse:
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
    return JSONResponse(session_json(request, row, await presence_of(request, [row])))


async def recording_get(request: Request) -> JSONResponse:
    await run_blocking(require_staff, request)
    row = await run_blocking(load_session, services(request).db, request.path_params["session_id"])
    return JSONResponse(recording_json(request, row))


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
        await found.jobs.run(path, functools.partial(add_both_voices, path))
    return FileResponse(
        path, media_type="video/webm", filename=f"repairsight-{slug(case.title)}-{session_id}.webm"
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


async def session_qr(request: Request) -> Response:
    """The customer link as a QR code. ``make_qr`` forces a full QR code: segno would pick a
    Micro QR for short data, which phone cameras do not read."""
    await run_blocking(require_staff, request)
    row = await run_blocking(load_session, services(request).db, request.path_params["session_id"])
    out = io.BytesIO()
    segno.make_qr(customer_url(request, row), error="m").save(out, kind="svg", scale=6, border=4)
    # The code carries the link secret: keep it out of shared caches.
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/api/cases/{case_id}/sessions", sessions_create, methods=["POST"]),
        Route("/api/sessions/{session_id}", session_get, methods=["GET"]),
        Route("/api/sessions/{session_id}/end", session_end, methods=["POST"]),
        Route("/api/sessions/{session_id}/recording", recording_get, methods=["GET"]),
        Route("/api/sessions/{session_id}/recording/media", recording_media, methods=["GET"]),
        Route("/api/sessions/{session_id}/recording/events", recording_events, methods=["GET"]),
        Route("/api/sessions/{session_id}/qr.svg", session_qr, methods=["GET"]),
    ]
