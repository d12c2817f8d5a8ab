"""Playback for trainers: one JSON with everything the player needs, and the recording library's search.

``GET /api/sessions/{id}/playback`` is ``server/recordings/playback.py``'s player data (the session's
timeline: chapters, chat, marks and the AR track, with the session, its case, the recording's
summary, the procedures used, the snapshots and any warnings). ``GET /api/library`` is
``server/recordings/search.py``'s search, for any staff member.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..blocking import run_blocking
from ..clock import iso
from ..recordings.playback import load_playback
from ..recordings.search import LibraryQuery, parse_date, search_library
from ..records.vocabulary import OUTCOMES
from .auth import require_staff
from .errors import ApiError
from .operations import QueryParam, responds
from .pagination import PAGE_PARAMS, page_of, page_request
from .presenters import case_json, presence_of, recording_json, session_json, snapshot_json
from .response_models import LibraryPage, Playback
from .state import services

LIBRARY_PARAMS = ("q", "procedure", "step", "outcome", "from", "to")
MAX_Q_CHARS = 200
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


@responds(Playback, summary="Everything the player needs", access="staff")
async def playback_get(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    session_id = request.path_params["session_id"]
    found = services(request)
    playback = await run_blocking(
        load_playback, found.db, found.settings.recordings_dir, found.procedures, session_id
    )
    used = playback.procedure_ids
    timeline = playback.timeline
    return {
        "session": session_json(request, playback.row, await presence_of(request, [playback.row])),
        "case": case_json(playback.case),
        "recording": recording_json(request, playback.row),
        "procedure": playback.procedures.get(used[0]) if used else None,
        "procedures": playback.procedures,
        "chapters": [chapter.to_json() for chapter in playback.chapters],
        "chat": [asdict(line) for line in timeline.chat],
        "marks": [
            {**span.annotation, "added_t_ms": span.added_t_ms, "removed_t_ms": span.removed_t_ms}
            for span in timeline.marks
        ],
        "ar": [
            {
                "t_ms": summary.t_ms,
                "found": summary.found,
                "homography": summary.homography,
                "frame_size": list(summary.frame_size) if summary.frame_size else None,
                "step_id": summary.step_id,
            }
            for summary in timeline.ar
        ],
        "consent": [{"at": iso(c.at), "t_ms": c.t_ms, "given": c.given} for c in timeline.consent_changes],
        "problems": [
            {"at": iso(p.at), "t_ms": p.t_ms, "role": p.role, "problem": p.problem, "browser": p.browser}
            for p in timeline.problems
        ],
        "snapshots": [snapshot_json(session_id, s) for s in playback.snapshots],
        "warnings": playback.warnings,
        "events_cut_off": playback.events_cut_off,
    }


def parse_library_query(params: dict[str, str]) -> LibraryQuery:
    """Check the search parameters; 422 with what was wrong and what is expected."""
    unknown = sorted(set(params) - set(LIBRARY_PARAMS) - set(PAGE_PARAMS))
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


@responds(
    LibraryPage,
    summary="Recordings across cases matching a search",
    access="staff",
    paged=True,
    query=(
        QueryParam("q", f"words in the case, chat or notes (at most {MAX_Q_CHARS} characters)"),
        QueryParam("procedure", "a procedure's id"),
        QueryParam("step", "a step's id"),
        QueryParam("outcome", "a case outcome", {"type": "string", "enum": list(OUTCOMES)}),
        QueryParam("from", "sessions from this day or moment (YYYY-MM-DD or ISO 8601)"),
        QueryParam("to", "sessions up to this day or moment"),
    ),
)
async def library_search(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    query = parse_library_query(dict(request.query_params))
    found = services(request)
    results = await run_blocking(
        search_library, found.db, found.settings.recordings_dir, query, found.procedures.get
    )
    shown, paging = page_of(results, page_request(request))
    return {"results": shown, "count": len(shown), **paging}


def routes() -> list[Route]:
    return [
        Route("/api/sessions/{session_id}/playback", playback_get, methods=["GET"]),
        Route("/api/library", library_search, methods=["GET"]),
    ]
