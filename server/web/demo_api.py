"""``POST /api/demo``: "Try with a sample" (``docs/demo.md``). A new case (``source`` demo, titled
"Demo: <procedure>") with a session whose customer is the server itself playing a sample clip of
the procedure's device; the answer is where the expert's console for it is.

The demo customer is in the session before the answer goes out, so the console opens on a call
already running. Its link is never shown: nobody else can take the demo's seat.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.routing import Route

from signaling import ProtocolError

from ..blocking import run_blocking
from ..live.demo import DemoClip
from ..records.cases import insert_case
from ..records.sessions import insert_session, mark_ended
from .auth import DEMO_RUNNERS, require_role
from .bodies import parse_json
from .errors import ApiError
from .operations import responds
from .owners import end_session
from .presenters import base_url
from .procedures_api import unknown_procedure
from .state import services

NOT_STARTED_REASON = "the demo customer could not join"


class DemoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    procedure_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="the procedure whose device the clip shows"
    )


class DemoAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    session_id: str
    procedure_id: str
    console_url: str = Field(description="the expert's console on the demo session")


@responds(
    DemoAnswer,
    summary="Start a demo session: the server plays a sample clip of a procedure's device as its customer",
    access="staff",
    status=201,
    body=DemoCreate,
    body_optional=True,
)
async def demo_create(request: Request) -> dict[str, Any]:
    """409 when the expert already has a demo running, or the server runs as many as it may."""
    principal = await run_blocking(require_role, request, *DEMO_RUNNERS)
    body = await parse_json(request, DemoCreate, empty_ok=True)
    found = services(request)
    if body.procedure_id is None:
        summaries = found.procedures.summaries()
        if not summaries:
            raise ApiError(409, "conflict", "this server has no procedures, so there is no sample to play")
        procedure_id = str(summaries[0]["id"])
    else:
        procedure_id = body.procedure_id
    procedure = found.procedures.get(procedure_id)
    if procedure is None:
        raise unknown_procedure(procedure_id)
    clip = DemoClip(await run_blocking(procedure.reference_bgr))
    expert = principal.user_id or principal.username  # staff always have an id; the type allows none
    found.demos.reserve(expert)  # 409 with the reason when they may not start one now
    try:
        fields = {
            "title": f"Demo: {procedure.spec.title}",
            "device_model": procedure.spec.device.model,
            "procedure_id": procedure.id,
            "notes": "A demo: the customer was the server playing a sample clip.",
        }
        case = await run_blocking(insert_case, found.db, fields, principal.user_id, "demo")
        row, link_token = await run_blocking(
            insert_session, found.db, case.id, principal.user_id, found.settings.link_ttl_s
        )
    except BaseException:
        found.demos.release(expert)
        raise
    try:
        await found.demos.start(expert, found.live, row.id, link_token, clip)
    except ProtocolError as exc:
        # What a phone would have been told (the recordings folder cannot be written, the server is
        # draining): the session ends at once, and the expert reads why.
        if not await end_session(found, row.id, NOT_STARTED_REASON):
            await run_blocking(mark_ended, found.db, row.id, NOT_STARTED_REASON)
        raise ApiError(503, exc.code, f"the demo could not start: {exc.message}") from None
    return {
        "case_id": case.id,
        "session_id": row.id,
        "procedure_id": procedure.id,
        "console_url": f"{base_url(request)}/console/{row.id}",
    }


def routes() -> list[Route]:
    return [Route("/api/demo", demo_create, methods=["POST"])]
