"""Calls one process of the service makes on another (``server/cluster/internal.py``): the REST calls
that must reach the process holding a session. Only callers with the internal secret get in."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from signaling.messages import Role

from ..cluster.internal import INTERNAL_HEADER, is_internal
from ..errors import Conflict
from ..live.selfhelp import customer_done, step_position
from .bodies import parse_json
from .errors import ApiError
from .state import services


class EndCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ProblemCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    problem: str = Field(min_length=1, max_length=500)
    browser: str = Field(max_length=400)


def _check_internal(request: Request) -> None:
    if not is_internal(request.headers.get(INTERNAL_HEADER), services(request).internal_secret):
        raise ApiError(403, "forbidden", "internal calls come from the service's own processes only")


async def end_here(request: Request) -> JSONResponse:
    _check_internal(request)
    body = await parse_json(request, EndCall)
    ended = await services(request).live.end(request.path_params["session_id"], body.reason)
    return JSONResponse({"ended": ended})


async def problem_here(request: Request) -> JSONResponse:
    _check_internal(request)
    body = await parse_json(request, ProblemCall)
    await services(request).live.report_problem(
        request.path_params["session_id"], body.role, body.problem, body.browser
    )
    return JSONResponse({})


class StepDoneCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: str = Field(min_length=1, max_length=100)


async def self_help_here(request: Request) -> JSONResponse:
    """A self-help customer's call on the session held here (``owners.py``): where it is, or a "Done"
    tap. A refusal comes back as ``conflict``, for the caller to raise as its own."""
    _check_internal(request)
    action = request.path_params["action"]
    if action not in ("done", "position"):
        raise ApiError(404, "not_found", f"no self-help call {action!r}; the calls are done and position")
    live = services(request).live.sessions.get(request.path_params["session_id"])
    if live is None:
        return JSONResponse({"position": None})
    try:
        if action == "done":
            body = await parse_json(request, StepDoneCall)
            position = await customer_done(live, body.step_id)
        else:
            position = step_position(live)
    except Conflict as exc:
        return JSONResponse({"conflict": exc.message})
    return JSONResponse({"position": position.to_json()})


def routes() -> list[Route]:
    return [
        Route("/internal/sessions/{session_id}/end", end_here, methods=["POST"]),
        Route("/internal/sessions/{session_id}/problem", problem_here, methods=["POST"]),
        Route("/internal/sessions/{session_id}/self-help/{action:str}", self_help_here, methods=["POST"]),
    ]
