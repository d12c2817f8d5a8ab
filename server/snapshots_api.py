"""Snapshots an expert saved during a session: a list, the pictures, and the AR state of each."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from . import auth
from .cases import load_session
from .errors import ApiError
from .storage import recording_files

SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def list_snapshot_files(directory: Any, session_id: str) -> list[dict[str, Any]]:
    found = []
    if directory.is_dir():
        for meta_path in sorted(directory.glob("*.json")):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # a snapshot cut off by a crash: the others still list
            state = meta.get("ar_state") or {}
            found.append(
                {
                    "id": meta["id"],
                    "url": f"/api/sessions/{session_id}/snapshots/{meta['id']}.jpg",
                    "t_ms": meta.get("t_ms"),
                    "step_id": meta.get("step_id"),
                    "device_found": bool(state.get("found")),
                    "outline_frame_px": state.get("outline_frame_px"),
                }
            )
    return sorted(found, key=lambda s: (s["t_ms"] is None, s["t_ms"] or 0))


async def list_snapshots(request: Request) -> Response:
    await run_in_threadpool(auth.require_staff, request)
    session_id = request.path_params["session_id"]
    await run_in_threadpool(load_session, request.app.state.db, session_id)
    files = recording_files(request.app.state.settings.recordings_dir, session_id)
    return JSONResponse(
        {"snapshots": await run_in_threadpool(list_snapshot_files, files.snapshots, session_id)}
    )


async def snapshot_file(request: Request) -> Response:
    await run_in_threadpool(auth.require_staff, request)
    session_id, name = request.path_params["session_id"], request.path_params["name"]
    await run_in_threadpool(load_session, request.app.state.db, session_id)
    stem, _, extension = name.rpartition(".")
    if extension not in ("jpg", "json") or not SNAPSHOT_ID.match(stem):
        raise ApiError(404, "not_found", f"there is no snapshot {name!r} in session {session_id!r}")
    path = recording_files(request.app.state.settings.recordings_dir, session_id).snapshots / name
    if not path.is_file():
        raise ApiError(404, "not_found", f"there is no snapshot {name!r} in session {session_id!r}")
    return FileResponse(path, media_type="image/jpeg" if extension == "jpg" else "application/json")


def routes() -> list[Route]:
    return [
        Route("/api/sessions/{session_id}/snapshots", list_snapshots, methods=["GET"]),
        Route("/api/sessions/{session_id}/snapshots/{name}", snapshot_file, methods=["GET"]),
    ]
