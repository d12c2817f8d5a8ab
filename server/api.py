"""The JSON API of ``docs/api-contract.md``: sign-in, cases, sessions, recordings, QR codes.

Endpoints are ``async`` so they can read the body with a size limit and ask the live registry
(which belongs to the event loop) who is connected; all database work and password hashing
goes through ``run_in_threadpool`` so it never blocks RTP and data channels on the loop.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import auth
from .bodies import CaseCreate, CasePatch, EndBody, LoginBody, parse_json, read_form
from .cases import (
    case_title_of,
    check_not_ended,
    insert_case,
    insert_session,
    list_cases,
    load_case,
    load_session,
    mark_ended,
    update_case,
)
from .config import Settings
from .db import Case, Database, RepairSession, iso
from .errors import ApiError
from .procedures_api import check_procedure_id
from .storage import recording_files

EDITORS = ("expert", "admin")
T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def slug(text: str, max_chars: int = 60) -> str:
    """``"Pump P-3 won't start!"`` -> ``"pump-p-3-won-t-start"``; ASCII only, so any browser keeps it."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_chars].strip("-") or "case"


# --- JSON views of rows ---------------------------------------------------------------------


def base_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def customer_url(request: Request, row: RepairSession) -> str:
    return f"{base_url(request)}/join/{row.join_token}"


def recording_json(settings: Settings, row: RepairSession) -> dict[str, Any]:
    files = recording_files(settings.recordings_dir, row.id)
    return {
        "status": row.recording_status,
        "duration_s": row.recording_duration_s,
        "media_url": f"/api/sessions/{row.id}/recording/media" if files.media.is_file() else None,
        "events_url": f"/api/sessions/{row.id}/recording/events" if files.events.is_file() else None,
    }


def session_json(request: Request, row: RepairSession) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "id": row.id,
        "case_id": row.case_id,
        "state": row.state,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "expires_at": iso(row.token_expires_at),
        "end_reason": row.end_reason,
        "customer_url": customer_url(request, row),
        "console_url": f"{base_url(request)}/console/{row.id}",
        "qr_url": f"/api/sessions/{row.id}/qr.svg",
        "consent": row.consent,
        "participants": request.app.state.live.presence(row.id),
        "recording": recording_json(settings, row),
    }


def case_json(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "customer_name": case.customer_name,
        "customer_contact": case.customer_contact,
        "device_model": case.device_model,
        "notes": case.notes,
        "status": case.status,
        "outcome": case.outcome,
        "procedure_id": case.procedure_id,
        "fixed_by_step": case.fixed_by_step,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
    }


def case_with_sessions_json(request: Request, case: Case) -> dict[str, Any]:
    return {**case_json(case), "sessions": [session_json(request, row) for row in case.sessions]}


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def safe_next(target: str | None) -> str:
    """Only a path on this site: ``next`` must not send a fresh sign-in to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_form(request: Request) -> Response:
    """POST /login from the sign-in page. ``next`` comes as a form field or a query parameter."""
    form = await read_form(request)
    target = safe_next(form.get("next") or request.query_params.get("next"))
    principal = await in_thread(
        auth.verify_login, _db(request), form.get("username", ""), form.get("password", "")
    )
    if principal is None:
        query = "error=1" if target == "/" else f"error=1&next={quote(target, safe='')}"
        return RedirectResponse(f"/?{query}", status_code=303)
    request.session.clear()
    request.session["user_id"] = principal.user_id
    return RedirectResponse(target, status_code=303)


async def api_login(request: Request) -> JSONResponse:
    body = await parse_json(request, LoginBody)
    principal = await in_thread(auth.verify_login, _db(request), body.username, body.password)
    if principal is None:
        raise ApiError(401, "unauthorized", "wrong username or password")
    request.session.clear()
    request.session["user_id"] = principal.user_id
    return JSONResponse({"username": principal.username, "role": principal.role})


async def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def me(request: Request) -> JSONResponse:
    principal = await in_thread(auth.require_staff, request)
    return JSONResponse({"username": principal.username, "role": principal.role})


async def cases_list(request: Request) -> JSONResponse:
    await in_thread(auth.require_staff, request)
    rows = await in_thread(list_cases, _db(request))
    return JSONResponse({"cases": [{**case_json(case), "session_count": count} for case, count in rows]})


async def cases_create(request: Request) -> JSONResponse:
    principal = await in_thread(auth.require_role, request, *EDITORS)
    body = await parse_json(request, CaseCreate)
    check_procedure_id(request, body.procedure_id)
    case = await in_thread(insert_case, _db(request), body, principal.user_id)
    return JSONResponse(case_with_sessions_json(request, case), status_code=201)


async def case_get(request: Request) -> JSONResponse:
    await in_thread(auth.require_staff, request)
    case = await in_thread(load_case, _db(request), request.path_params["case_id"])
    return JSONResponse(case_with_sessions_json(request, case))


async def case_patch(request: Request) -> JSONResponse:
    await in_thread(auth.require_role, request, *EDITORS)
    body = await parse_json(request, CasePatch)
    check_procedure_id(request, body.procedure_id)
    case = await in_thread(
        update_case, _db(request), request.path_params["case_id"], body, procedure_step_ids(request)
    )
    return JSONResponse(case_with_sessions_json(request, case))


def procedure_step_ids(request: Request) -> Callable[[str], tuple[str, ...] | None]:
    library = request.app.state.procedures

    def step_ids(procedure_id: str) -> tuple[str, ...] | None:
        loaded = library.get(procedure_id)
        return None if loaded is None else tuple(loaded.step_ids())

    return step_ids


async def sessions_create(request: Request) -> JSONResponse:
    principal = await in_thread(auth.require_role, request, *EDITORS)
    settings: Settings = request.app.state.settings
    row = await in_thread(
        insert_session, _db(request), request.path_params["case_id"], principal.user_id, settings.link_ttl_s
    )
    return JSONResponse(session_json(request, row), status_code=201)


async def session_get(request: Request) -> JSONResponse:
    await in_thread(auth.require_staff, request)
    row = await in_thread(load_session, _db(request), request.path_params["session_id"])
    return JSONResponse(session_json(request, row))


async def session_end(request: Request) -> JSONResponse:
    """End a session: the live registry tells both sides and finalises the recording; a session
    nobody joined yet is not in the registry, so its row is ended here."""
    await in_thread(auth.require_role, request, *EDITORS)
    session_id = request.path_params["session_id"]
    body = await parse_json(request, EndBody, empty_ok=True)
    db = _db(request)
    await in_thread(check_not_ended, db, session_id)
    if not await request.app.state.live.end(session_id, body.reason):
        await in_thread(mark_ended, db, session_id, body.reason)
    row = await in_thread(load_session, db, session_id)
    return JSONResponse(session_json(request, row))


async def recording_get(request: Request) -> JSONResponse:
    await in_thread(auth.require_staff, request)
    row = await in_thread(load_session, _db(request), request.path_params["session_id"])
    return JSONResponse(recording_json(request.app.state.settings, row))


async def recording_media(request: Request) -> Response:
    """The WebM as recorded. FileResponse answers Range requests, so players can seek."""
    await in_thread(auth.require_staff, request)
    session_id = request.path_params["session_id"]
    title = await in_thread(case_title_of, _db(request), session_id)
    path = recording_files(request.app.state.settings.recordings_dir, session_id).media
    if not path.is_file():
        raise ApiError(404, "not_found", "this session has no recording (it was declined or never started)")
    return FileResponse(
        path, media_type="video/webm", filename=f"repairsight-{slug(title)}-{session_id}.webm"
    )


async def recording_events(request: Request) -> Response:
    await in_thread(auth.require_staff, request)
    session_id = request.path_params["session_id"]
    await in_thread(load_session, _db(request), session_id)
    path = recording_files(request.app.state.settings.recordings_dir, session_id).events
    if not path.is_file():
        raise ApiError(404, "not_found", "this session has no event log (nobody joined it)")
    return FileResponse(path, media_type="application/x-ndjson")


async def session_qr(request: Request) -> Response:
    """The customer link as a QR code. ``make_qr`` forces a full QR code: segno would pick a
    Micro QR for short data, which phone cameras do not read."""
    await in_thread(auth.require_staff, request)
    row = await in_thread(load_session, _db(request), request.path_params["session_id"])
    out = io.BytesIO()
    segno.make_qr(customer_url(request, row), error="m").save(out, kind="svg", scale=6, border=4)
    # The code carries the link secret: keep it out of shared caches.
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/login", login_form, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/login", api_login, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/api/cases", cases_list, methods=["GET"]),
        Route("/api/cases", cases_create, methods=["POST"]),
        Route("/api/cases/{case_id}", case_get, methods=["GET"]),
        Route("/api/cases/{case_id}", case_patch, methods=["PATCH"]),
        Route("/api/cases/{case_id}/sessions", sessions_create, methods=["POST"]),
        Route("/api/sessions/{session_id}", session_get, methods=["GET"]),
        Route("/api/sessions/{session_id}/end", session_end, methods=["POST"]),
        Route("/api/sessions/{session_id}/recording", recording_get, methods=["GET"]),
        Route("/api/sessions/{session_id}/recording/media", recording_media, methods=["GET"]),
        Route("/api/sessions/{session_id}/recording/events", recording_events, methods=["GET"]),
        Route("/api/sessions/{session_id}/qr.svg", session_qr, methods=["GET"]),
    ]
