"""Playback for trainers: one JSON with everything the player needs, and the recording library's search.

``GET /api/sessions/{id}/playback`` reads the session's event log (``server/playback.py`` turns it
into chapters, chat, marks and the AR track) and adds the session, its case, the recording's
summary, the procedures used and the snapshots. A log whose last line was cut off, a partial
recording, a session without one: each is a warning in the answer, never an error, so the page
shows what there is. ``GET /api/library`` is ``server/search.py``'s search, for any staff member.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import auth
from .api import case_json, recording_json, session_json
from .cases import load_session
from .db import OUTCOMES, Case, Database, RepairSession
from .errors import ApiError
from .eventlog import read_events
from .playback import build_timeline, recording_warnings
from .procedures_api import library_of
from .search import LibraryQuery, parse_date, search_library
from .snapshots_api import list_snapshot_files as list_snapshots
from .storage import recording_files

LIBRARY_PARAMS = ("q", "procedure", "step", "outcome", "from", "to")
MAX_Q_CHARS = 200
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def _load(db: Database, session_id: str) -> tuple[RepairSession, Case]:
    row = load_session(db, session_id)
    with db.session() as s:
        case = s.get(Case, row.case_id)
        assert case is not None  # sessions.case_id is a foreign key
        return row, case


def _read_log(request: Request, session_id: str) -> dict[str, Any]:
    files = recording_files(request.app.state.settings.recordings_dir, session_id)
    events, cut_off = read_events(files.events)
    return {
        "events": events,
        "cut_off": cut_off,
        "events_exist": files.events.is_file(),
        "media_exists": files.media.is_file(),
        "snapshots": list_snapshots(files.snapshots, session_id),
    }


async def playback_get(request: Request) -> JSONResponse:
    await run_in_threadpool(auth.require_staff, request)
    session_id = request.path_params["session_id"]
    db: Database = request.app.state.db
    row, case = await run_in_threadpool(_load, db, session_id)
    log = await run_in_threadpool(_read_log, request, session_id)

    library = library_of(request)
    titles: dict[tuple[str, str], str] = {}
    for procedure in library.procedures.values():
        for step in procedure.to_json()["steps"]:
            titles[(procedure.id, step["id"])] = step["title"]
    timeline = build_timeline(log["events"], titles)
    used = list(timeline.procedure_ids) or ([case.procedure_id] if case.procedure_id else [])
    procedures = {}
    warnings = recording_warnings(
        row.recording_status,
        row.recording_duration_s,
        log["media_exists"],
        log["events_exist"],
        log["cut_off"],
    )
    for procedure_id in used:
        loaded = library.get(procedure_id)
        if loaded is None:
            warnings.append(
                f"procedure {procedure_id!r} is no longer loaded on this server: "
                "its steps' marks cannot be drawn"
            )
        else:
            procedures[procedure_id] = loaded.to_json()
    return JSONResponse(
        {
            "session": session_json(request, row),
            "case": case_json(case),
            "recording": recording_json(request.app.state.settings, row),
            "procedure": procedures.get(used[0]) if used else None,
            "procedures": procedures,
            **timeline.to_json(),
            "snapshots": log["snapshots"],
            "warnings": warnings,
            "events_cut_off": log["cut_off"],
        }
    )


def parse_library_query(params: dict[str, str]) -> LibraryQuery:
    """Check the search parameters; 422 with what was wrong and what is expected."""
    unknown = sorted(set(params) - set(LIBRARY_PARAMS))
    if unknown:
        raise ApiError(
            422, "invalid", f"unknown parameter(s) {', '.join(unknown)}; use {', '.join(LIBRARY_PARAMS)}"
        )
    values = {name: (params.get(name) or "").strip() or None for name in LIBRARY_PARAMS}
    q = values["q"]
    if q is not None and len(q) > MAX_Q_CHARS:
        raise ApiError(422, "invalid", f"q: at most {MAX_Q_CHARS} characters, got {len(q)}")
    for name in ("procedure", "step"):
        value = values[name]
        if value is not None and not ID_PATTERN.match(value):
            raise ApiError(
                422, "invalid", f"{name}: {value!r} is not an id (lowercase letters, digits and dashes)"
            )
    outcome = values["outcome"]
    if outcome is not None and outcome not in OUTCOMES:
        raise ApiError(422, "invalid", f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    try:
        start = parse_date("from", values["from"], end_of_day=False) if values["from"] else None
        end = parse_date("to", values["to"], end_of_day=True) if values["to"] else None
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    if start is not None and end is not None and end <= start:
        raise ApiError(422, "invalid", "from must be before to")
    return LibraryQuery(
        q=q, procedure=values["procedure"], step=values["step"], outcome=outcome, start=start, end=end
    )


async def library_search(request: Request) -> JSONResponse:
    await run_in_threadpool(auth.require_staff, request)
    query = parse_library_query(dict(request.query_params))
    settings = request.app.state.settings
    results = await run_in_threadpool(search_library, request.app.state.db, settings.recordings_dir, query)
    return JSONResponse({"results": results, "count": len(results)})


def routes() -> list[Route]:
    return [
        Route("/api/sessions/{session_id}/playback", playback_get, methods=["GET"]),
        Route("/api/library", library_search, methods=["GET"]),
    ]
