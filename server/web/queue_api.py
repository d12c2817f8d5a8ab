"""The experts' queue of self-help customers waiting for one (``/queue``, ``docs/self-help.md``), and
picking one up: the expert then joins that very live session from the console.

Picking up is one conditional update in the database (``records/selfhelp.pick_up``), so two experts
on any processes of the service never both get a customer: the second hears who did (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from procedures import ProcedureLibrary

from ..blocking import run_blocking
from ..clock import iso, utcnow
from ..records import selfhelp
from .auth import EDITORS, require_role, require_staff
from .operations import responds
from .pages import staff_page
from .pagination import page_of, page_request
from .presenters import base_url
from .selfhelp_models import PickUpAnswer, QueuePage
from .state import services


def step_json(
    library: ProcedureLibrary, procedure_id: str | None, step_id: str | None
) -> dict[str, Any] | None:
    """A step as the queue shows it: id, its number and title (None when no step was reached)."""
    procedure = library.get(procedure_id) if procedure_id else None
    if procedure is None or step_id is None:
        return None if step_id is None else {"id": step_id, "index": None, "count": None, "title": step_id}
    steps = procedure.to_json()["steps"]
    index = next((i for i, step in enumerate(steps) if step["id"] == step_id), None)
    title = steps[index]["title"] if index is not None else step_id
    return {"id": step_id, "index": index, "count": len(steps), "title": title}


def queue_item_json(library: ProcedureLibrary, entry: selfhelp.QueueEntry, now: datetime) -> dict[str, Any]:
    run, case = entry.run, entry.case
    procedure = library.get(case.procedure_id) if case.procedure_id else None
    waited = (now - run.escalated_at).total_seconds() if run.escalated_at else 0.0
    return {
        "run_id": run.id,
        "session_id": run.session_id,
        "case_id": run.case_id,
        "position": entry.position,
        "escalated_at": iso(run.escalated_at),
        "wait_s": max(0, round(waited)),
        "device_model": case.device_model,
        "procedure": {
            "id": case.procedure_id,
            "title": procedure.spec.title if procedure is not None else case.procedure_id,
        },
        "step": step_json(library, case.procedure_id, run.step_reached),
        "reason": run.escalation_reason,
    }


@responds(
    QueuePage, summary="Self-help customers waiting for an expert, longest first", access="staff", paged=True
)
async def queue_list(request: Request) -> dict[str, Any]:
    """The customers waiting, longest first; the page asks again every few seconds."""
    await run_blocking(require_staff, request)
    found = services(request)
    entries = await run_blocking(selfhelp.waiting_queue, found.db)
    shown, paging = page_of(entries, page_request(request))
    now = utcnow()
    return {"queue": [queue_item_json(found.procedures, e, now) for e in shown], **paging}


@responds(
    PickUpAnswer,
    summary="Pick up a waiting self-help customer (one expert only; 409 names who got them)",
    access="editor",
)
async def pick_up(request: Request) -> dict[str, Any]:
    principal = await run_blocking(require_role, request, *EDITORS)
    assert principal.user_id is not None
    run = await run_blocking(
        selfhelp.pick_up, services(request).db, request.path_params["run_id"], principal.user_id
    )
    return {
        "run_id": run.id,
        "session_id": run.session_id,
        "case_id": run.case_id,
        "state": run.state,
        "picked_up_at": iso(run.picked_up_at),
        "console_url": f"{base_url(request)}/console/{run.session_id}",
    }


def routes() -> list[Route]:
    return [
        Route("/queue", staff_page("queue.html", *EDITORS), methods=["GET"]),
        Route("/api/self-help/queue", queue_list, methods=["GET"]),
        Route("/api/self-help/runs/{run_id}/pickup", pick_up, methods=["POST"]),
    ]
