"""Snapshots an expert saved during a session: a list, the pictures, and the AR state of each."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..recordings.files import recording_files
from ..recordings.snapshots import list_snapshots, snapshot_file
from ..records.sessions import load_session
from .auth import require_staff
from .errors import ApiError
from .operations import Binary, responds
from .pagination import page_of, page_request
from .presenters import snapshot_json
from .response_models import SnapshotPage
from .state import services


@responds(SnapshotPage, summary="A session's snapshots, in time order", access="staff", paged=True)
async def snapshots_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    session_id = request.path_params["session_id"]
    found = services(request)
    await run_blocking(load_session, found.db, session_id)
    files = recording_files(found.settings.recordings_dir, session_id)
    snapshots, paging = page_of(await run_blocking(list_snapshots, files), page_request(request))
    return {"snapshots": [snapshot_json(session_id, s) for s in snapshots], **paging}


@responds(
    Binary(
        "image/jpeg, application/json",
        "NAME.jpg: the frame (NAME-marked.jpg: with the marks); NAME.json: its AR state",
    ),
    summary="A snapshot's picture or AR state",
    access="staff",
)
async def snapshot_get(request: Request) -> Response:
    await run_blocking(require_staff, request)
    session_id, name = request.path_params["session_id"], request.path_params["name"]
    found = services(request)
    await run_blocking(load_session, found.db, session_id)
    path = snapshot_file(recording_files(found.settings.recordings_dir, session_id), name)
    if path is None:
        raise ApiError(404, "not_found", f"there is no snapshot {name!r} in session {session_id!r}")
    return FileResponse(path, media_type="image/jpeg" if path.suffix == ".jpg" else "application/json")


def routes() -> list[Route]:
    return [
        Route("/api/sessions/{session_id}/snapshots", snapshots_list, methods=["GET"]),
        Route("/api/sessions/{session_id}/snapshots/{name}", snapshot_get, methods=["GET"]),
    ]
