"""The JSON API of ``docs/api-contract.md``: sign-in, cases, sessions, recordings, QR codes.

Endpoints are ``async`` so they can read the body with a size limit and ask the live registry
(which belongs to the event loop) who is connected; all database work and password hashing
goes through ``run_in_threadpool`` so it never blocks RTP and data channels on the loop.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import segno
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Message

from . import auth
from .config import Settings
from .db import Case, Database, RepairSession, iso, utcnow
from .errors import ApiError
from .storage import recording_files

MAX_BODY_BYTES = 1024 * 1024
EDITORS = ("expert", "admin")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Outcome = Literal["fixed_remotely", "sent_to_repair", "no_fault_found", "unresolved"]


# --- request bodies -----------------------------------------------------------------------


class _Body(BaseModel):
    # A misspelt field is an error, not silently dropped: "costumer_name" must not lose data.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginBody(_Body):
    username: str = Field(min_length=1, max_length=auth.MAX_USERNAME_CHARS)
    password: str = Field(min_length=1, max_length=1024)


class CaseCreate(_Body):
    title: str = Field(min_length=1, max_length=200)
    customer_name: str = Field(default="", max_length=200)
    customer_contact: str = Field(default="", max_length=200)
    device_model: str = Field(default="", max_length=200)
    notes: str = Field(default="", max_length=20_000)
    procedure_id: str | None = Field(default=None, max_length=100)


class CasePatch(_Body):
    """Any subset of a case's fields. ``None`` is allowed only where the case field may be empty."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    customer_name: str | None = Field(default=None, max_length=200)
    customer_contact: str | None = Field(default=None, max_length=200)
    device_model: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=20_000)
    status: Literal["open", "closed"] | None = None
    outcome: Outcome | None = None
    procedure_id: str | None = Field(default=None, max_length=100)


class EndBody(_Body):
    reason: str = Field(default="ended by the expert", min_length=1, max_length=200)


NOT_NULLABLE = ("title", "customer_name", "customer_contact", "device_model", "notes", "status")


# --- reading bodies -----------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 past ``MAX_BODY_BYTES``: by its Content-Length before reading a
    byte, and by counting while reading, for clients that stream without one (or lie)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "the Content-Length header is not a number")
        if int(declared) > MAX_BODY_BYTES:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> ApiError:
    return ApiError(413, "too_large", f"the request body is over {MAX_BODY_BYTES // 1024} KiB; send less")


async def parse_json(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The body as ``model``: 400 for bytes that are not JSON, 422 naming the field that is wrong."""
    raw = await read_body(request)
    if not raw.strip():
        if empty_ok:
            return model()
        raise ApiError(400, "bad_request", "the request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_request", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "the request body must be a JSON object, like {\"title\": \"...\"}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", validation_message(exc)) from None


def validation_message(exc: ValidationError) -> str:
    """One line naming each wrong field, e.g. ``title: String should have at least 1 character``."""
    parts = []
    for error in exc.errors()[:5]:
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "is not a field of this request; check its spelling"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


async def read_form(request: Request) -> dict[str, str]:
    """A form body (urlencoded or multipart) with the same size limit as JSON bodies."""
    raw = await read_body(request)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=0, max_fields=20)
    return {key: value for key, value in form.items() if isinstance(value, str)}


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
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
    }


def case_with_sessions_json(request: Request, case: Case) -> dict[str, Any]:
    return {**case_json(case), "sessions": [session_json(request, row) for row in case.sessions]}


# --- database work (runs in the thread pool) ---------------------------------------------------


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _case_not_found(case_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no case with id {case_id!r}; check the link or list /api/cases")


def _session_not_found(session_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no session with id {session_id!r}; check the link")


def load_case(db: Database, case_id: str) -> Case:
    """The case with its sessions loaded (they are read after the database session closes)."""
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise _case_not_found(case_id)
        _ = case.sessions
        return case


def load_session(db: Database, session_id: str) -> RepairSession:
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise _session_not_found(session_id)
        return row


def list_cases(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        per_case = select(RepairSession.case_id, func.count()).group_by(RepairSession.case_id)
        counts = {case_id: count for case_id, count in s.execute(per_case)}
        cases = s.scalars(select(Case).order_by(Case.created_at.desc(), Case.id)).all()
        return [{**case_json(case), "session_count": counts.get(case.id, 0)} for case in cases]


def insert_case(db: Database, body: CaseCreate, user_id: str | None) -> Case:
    with db.session() as s:
        case = Case(**body.model_dump(), created_by=user_id)
        s.add(case)
        s.flush()
        _ = case.sessions
        return case


def update_case(db: Database, case_id: str, body: CasePatch) -> Case:
    changes = body.model_dump(include=body.model_fields_set)
    for name in NOT_NULLABLE:
        if name in changes and changes[name] is None:
            raise ApiError(422, "invalid", f"{name}: cannot be null; leave it out to keep the current value")
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise _case_not_found(case_id)
        for name, value in changes.items():
            setattr(case, name, value)
        if case.status == "closed" and case.outcome is None:
            raise ApiError(
                422,
                "invalid",
                "outcome: closing a case needs an outcome: fixed_remotely, sent_to_repair, "
                "no_fault_found or unresolved",
            )
        s.flush()
        _ = case.sessions
        return case


def insert_session(db: Database, case_id: str, user_id: str | None, link_ttl_s: int) -> RepairSession:
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise _case_not_found(case_id)
        if case.status == "closed":
            raise ApiError(
                409, "conflict", "this case is closed; reopen it (status open) before starting a new session"
            )
        row = RepairSession(
            case_id=case_id, created_by=user_id, token_expires_at=utcnow() + timedelta(seconds=link_ttl_s)
        )
        s.add(row)
        s.flush()
        return row


def check_not_ended(db: Database, session_id: str) -> None:
    if load_session(db, session_id).state == "ended":
        raise ApiError(409, "conflict", "this session has already ended; start a new one on the case")


def mark_ended(db: Database, session_id: str, reason: str) -> None:
    """End a session the live registry did not hold (nobody had joined yet): created -> ended."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is not None and row.state != "ended":
            row.state = "ended"
            row.ended_at = utcnow()
            row.end_reason = reason


def case_title_of(db: Database, session_id: str) -> str:
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise _session_not_found(session_id)
        return row.case.title


def slug(text: str, max_chars: int = 60) -> str:
    """``"Pump P-3 won't start!"`` -> ``"pump-p-3-won-t-start"``; ASCII only, so any browser keeps it."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_chars].strip("-") or "case"


# --- endpoints ----------------------------------------------------------------------------------


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
    return JSONResponse({"cases": await in_thread(list_cases, _db(request))})


async def cases_create(request: Request) -> JSONResponse:
    principal = await in_thread(auth.require_role, request, *EDITORS)
    body = await parse_json(request, CaseCreate)
    case = await in_thread(insert_case, _db(request), body, principal.user_id)
    return JSONResponse(case_with_sessions_json(request, case), status_code=201)


async def case_get(request: Request) -> JSONResponse:
    await in_thread(auth.require_staff, request)
    case = await in_thread(load_case, _db(request), request.path_params["case_id"])
    return JSONResponse(case_with_sessions_json(request, case))


async def case_patch(request: Request) -> JSONResponse:
    await in_thread(auth.require_role, request, *EDITORS)
    body = await parse_json(request, CasePatch)
    case = await in_thread(update_case, _db(request), request.path_params["case_id"], body)
    return JSONResponse(case_with_sessions_json(request, case))


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

