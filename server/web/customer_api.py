"""What the customer's page may say without joining the call: that this browser cannot make it.

A page that finds no WebRTC (``RTCPeerConnection``) or camera access cannot join, but the expert
must not wait on a black screen without knowing: it posts the problem with its user agent, checked
by its link like the page itself, and the expert's console and the case show it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..errors import Conflict, NotFound
from ..live.browsers import describe_browser
from ..records.links import check_link
from . import owners
from .bodies import parse_json
from .operations import responds
from .state import services


class ProblemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problem: str = Field(min_length=1, max_length=500)
    user_agent: str = Field(default="", max_length=400)


@responds(
    None,
    summary="The customer's page says its browser cannot make the call",
    access="link",
    status=204,
    body=ProblemBody,
)
async def report_problem(request: Request) -> Response:
    found = services(request)
    check = await run_blocking(check_link, found.db, request.path_params["token"])
    if check.problem == "unknown" or check.session_id is None:
        raise NotFound("this link is not valid; ask the expert for a new link")
    if check.problem is not None:
        raise Conflict(f"this link cannot be used any more ({check.problem}); ask the expert for a new one")
    body = await parse_json(request, ProblemBody)
    await owners.report_problem(
        found, check.session_id, "customer", body.problem, describe_browser(body.user_agent)
    )
    return Response(status_code=204)


def routes() -> list[Route]:
    return [Route("/join/{token}/problem", report_problem, methods=["POST"])]
