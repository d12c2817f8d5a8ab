"""How records look as JSON (``docs/api-contract.md``): cases, sessions, recordings, snapshots.

One place, so every route that shows a session shows the same thing. Links are built on the
configured public URL when there is one, else on the request's own base URL (whose Host the server
checked is its own: ``hosts.py``).
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any
from urllib.parse import urlsplit

import segno
from starlette.requests import Request

from ..clock import iso
from ..recordings.files import recording_files
from ..recordings.snapshots import Snapshot
from ..records.models import Case, RepairSession, User
from .state import services


def slug(text: str, max_chars: int = 60) -> str:
    """``"Pump P-3 won't start!"`` -> ``"pump-p-3-won-t-start"``; ASCII only, so any browser keeps it."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_chars].strip("-") or "case"


def base_url(request: Request) -> str:
    public_url = services(request).settings.public_url
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def customer_url(request: Request, link_token: str) -> str:
    return f"{base_url(request)}/join/{link_token}"


def qr_data_url(url: str) -> str:
    """``url`` as a QR code in a ``data:`` URL (an SVG). ``make_qr`` forces a full QR code: segno
    would pick a Micro QR for short data, which phone cameras do not read."""
    out = io.BytesIO()
    segno.make_qr(url, error="m").save(out, kind="svg", scale=6, border=4)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "[::1]")


def link_warning(url: str) -> str | None:
    """Why a customer link cannot work from a phone, and what to do; None when it can.

    A link on this computer's own address opens nowhere else, and phones give the camera only to
    https:// pages (or localhost on the phone itself)."""
    parsed = urlsplit(url)
    host = (parsed.hostname or "").lower()
    if host in LOOPBACK_HOSTS or host.startswith("127."):
        return (
            f"This link points at this computer ({host}), so a phone cannot open it. Start the server "
            "with --host 0.0.0.0 --self-signed for phones on your network, or give --public-url "
            "https://your.host when it is behind a proxy."
        )
    if parsed.scheme != "https":
        return (
            "Phones allow the camera only on https:// pages: this http:// link opens, but the camera "
            "will be refused. Start the server with --self-signed (or --tls-cert and --tls-key), or give "
            "--public-url https://your.host when a proxy serves it over https."
        )
    return None


def recording_json(request: Request, row: RepairSession) -> dict[str, Any]:
    files = recording_files(services(request).settings.recordings_dir, row.id)
    return {
        "status": row.recording_status,
        "duration_s": row.recording_duration_s,
        "media_url": f"/api/sessions/{row.id}/recording/media" if files.media.is_file() else None,
        "events_url": f"/api/sessions/{row.id}/recording/events" if files.events.is_file() else None,
    }


async def presence_of(request: Request, rows: list[RepairSession]) -> dict[str, dict[str, str]]:
    """Who is in each session right now, wherever its live session is held (this process or
    another one of the service: as its owner last published it)."""
    return await services(request).live.presence_of([row.id for row in rows])


def session_json(
    request: Request, row: RepairSession, presence: dict[str, dict[str, str]], link_token: str | None = None
) -> dict[str, Any]:
    """``presence``: :func:`presence_of` for this row (or more). ``link_token``: given only by the
    answer that made the session; the database keeps only its hash (``records/links.py``), so
    ``customer_url`` and ``qr_url`` are null everywhere else."""
    url = customer_url(request, link_token) if link_token is not None else None
    return {
        "id": row.id,
        "case_id": row.case_id,
        "state": row.state,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "expires_at": iso(row.token_expires_at),
        "end_reason": row.end_reason,
        "customer_url": url,
        "link_warning": link_warning(f"{base_url(request)}/join/"),
        "console_url": f"{base_url(request)}/console/{row.id}",
        "qr_url": qr_data_url(url) if url is not None else None,
        "consent": row.consent,
        "participants": presence[row.id],
        "recording": recording_json(request, row),
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
        "source": case.source,
        "external_reference": case.external_reference,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
    }


async def case_with_sessions_json(request: Request, case: Case) -> dict[str, Any]:
    presence = await presence_of(request, list(case.sessions))
    return {**case_json(case), "sessions": [session_json(request, row, presence) for row in case.sessions]}


def user_json(user: User) -> dict[str, Any]:
    """A staff account as JSON; never its password hash."""
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "created_at": iso(user.created_at),
        "disabled": user.disabled,
        "disabled_at": iso(user.disabled_at),
        "must_change_password": user.must_change_password,
    }


def snapshot_json(session_id: str, snapshot: Snapshot) -> dict[str, Any]:
    """``url``: the picture as the expert saw it (with the marks, when it was saved with them);
    ``clean_url``: the frame alone."""
    clean = f"/api/sessions/{session_id}/snapshots/{snapshot.id}.jpg"
    marked = f"/api/sessions/{session_id}/snapshots/{snapshot.id}-marked.jpg"
    return {
        "id": snapshot.id,
        "url": marked if snapshot.has_marked else clean,
        "clean_url": clean,
        "t_ms": snapshot.t_ms,
        "step_id": snapshot.step_id,
        "device_found": snapshot.device_found,
        "outline_frame_px": snapshot.outline_frame_px,
    }
