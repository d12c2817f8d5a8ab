"""Self-help links (``docs/self-help.md``): staff make, list and revoke them; a customer opens one at
``/help/<token>``, starts a run, and from then on acts on the run with its session's customer link
(``/join/<token>/self-help/...``), as the rest of the customer's page does.

Link tokens are stored only as hashes, so a link's URL and QR code exist only in the answer that
made it; ``/help/<token>/qr.svg`` draws the code of the link its own URL carries, for printing.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from procedures import LoadedProcedure

from ..blocking import run_blocking
from ..clock import iso
from ..errors import Conflict, Invalid, NotFound
from ..languages import is_language_tag, negotiate
from ..records import selfhelp
from ..records.links import check_link
from ..records.models import SelfHelpLink
from ..records.sessions import mark_ended
from ..records.vocabulary import EscalationReason
from . import owners
from .auth import EDITORS, require_role, require_staff
from .bodies import parse_json
from .customer_pages import CustomerPage, english_words
from .operations import QueryParam, responds
from .pages import customer_message_page, database_down_page, static_page
from .pagination import page_fields, page_request
from .presenters import base_url
from .procedures_api import unknown_procedure
from .selfhelp_models import SelfHelpLinkAnswer, SelfHelpLinkMade, SelfHelpLinkPage
from .state import services

FIXED_REASON = "the customer said self-help fixed it"


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(default="", max_length=200)


class RunStartBody(BaseModel):
    """Nothing yet: the consent to the recording is given in the session's ``join``, as on every
    customer page. The body must still be JSON, which another site's page cannot send unasked."""

    model_config = ConfigDict(extra="forbid")


class DoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: str = Field(min_length=1, max_length=100)


class EscalateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: EscalationReason = "asked"


def help_url(request: Request, token: str) -> str:
    return f"{base_url(request)}/help/{token}"


def link_json(link: SelfHelpLink) -> dict[str, Any]:
    """A link as staff see it in lists: never its token (only its hash is kept)."""
    return {
        "id": link.id,
        "procedure_id": link.procedure_id,
        "label": link.label,
        "created_at": iso(link.created_at),
        "revoked_at": iso(link.revoked_at),
        "revoked": link.revoked_at is not None,
    }


def place_json(place: selfhelp.QueuePlace) -> dict[str, Any]:
    return {
        "state": place.run.state,
        "position": place.position,
        "estimated_wait_s": None if place.estimated_wait_s is None else round(place.estimated_wait_s),
        "picked_up_by": place.picked_up_by,
    }


# --- staff: make, list and revoke links ---------------------------------------------------------------


@responds(
    SelfHelpLinkMade,
    summary="Make a self-help link for a procedure (the only answer with its token)",
    access="editor",
    status=201,
    body=LinkCreate,
    body_optional=True,
    headers={"Cache-Control": "no-store"},
)
async def link_create(request: Request) -> dict[str, Any]:
    principal = await run_blocking(require_role, request, *EDITORS)
    procedure_id = request.path_params["procedure_id"]
    if procedure_id not in services(request).procedures:
        raise unknown_procedure(procedure_id)
    body = await parse_json(request, LinkCreate, empty_ok=True)
    link, token = await run_blocking(
        selfhelp.create_link, services(request).db, procedure_id, body.label, principal.user_id
    )
    url = help_url(request, token)
    return {**link_json(link), "url": url, "qr_svg_url": f"{url}/qr.svg", "token": token}


@responds(
    SelfHelpLinkPage,
    summary="The self-help links, newest first (revoked ones too)",
    access="staff",
    paged=True,
    query=(QueryParam("procedure_id", "only the links of this procedure"),),
)
async def links_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    page = page_request(request)
    procedure_id = request.query_params.get("procedure_id") or None
    links, total = await run_blocking(
        selfhelp.list_links, services(request).db, page.offset, page.limit, procedure_id
    )
    paging = page_fields(page, len(links), total)
    return {"links": [link_json(link) for link in links], **paging}


@responds(SelfHelpLinkAnswer, summary="Revoke a self-help link: it stops working at once", access="editor")
async def link_revoke(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *EDITORS)
    link = await run_blocking(selfhelp.revoke_link, services(request).db, request.path_params["link_id"])
    return link_json(link)


# --- the customer: the link's page, its QR code, its procedure, a new run -----------------------------

LINK_PROBLEM_PAGES: dict[str, tuple[int, CustomerPage]] = {
    "unknown": (404, "helpUnknown"),
    "revoked": (410, "helpRevoked"),
    "missing": (503, "helpMissing"),
}


async def _open_link(request: Request) -> tuple[SelfHelpLink, LoadedProcedure] | tuple[None, str]:
    link, problem = await run_blocking(selfhelp.find_link, services(request).db, request.path_params["token"])
    if link is None or problem is not None:
        return None, problem or "unknown"
    procedure = services(request).procedures.get(link.procedure_id)
    if procedure is None:
        return None, "missing"
    return link, procedure


async def _link_or_error(request: Request) -> tuple[SelfHelpLink, LoadedProcedure]:
    link, found = await _open_link(request)
    if link is None:
        status, page = LINK_PROBLEM_PAGES[str(found)]
        title, text = english_words(page)
        if status == 404:
            raise NotFound(f"{title}: {text}")
        raise Conflict(f"{title}: {text}")
    assert isinstance(found, LoadedProcedure)
    return link, found


async def help_page(request: Request) -> Response:
    """The self-help page; a link that cannot be used gets a plain page with no script, so the phone
    never asks for the camera for nothing."""
    try:
        link, found = await _open_link(request)
    except SQLAlchemyError as exc:
        return database_down_page(request, exc)
    if link is None:
        return customer_message_page(request, *LINK_PROBLEM_PAGES[str(found)])
    return static_page(request, "help.html")


async def help_qr(request: Request) -> Response:
    """This link's URL as a QR code to print (a full QR code: phones do not read Micro QR)."""
    await _link_or_error(request)
    out = io.BytesIO()
    segno.make_qr(help_url(request, request.path_params["token"]), error="m").save(
        out, kind="svg", scale=6, border=4
    )
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


async def help_procedure(request: Request) -> JSONResponse:
    """What the page shows before anything starts: the procedure (its steps, device, safety notes),
    in the page's language (``?language=``, else the browser's ``Accept-Language``) where the
    procedure has a translation."""
    _link, procedure = await _link_or_error(request)
    language = request.query_params.get("language")
    if language is not None and not (len(language) <= 35 and is_language_tag(language)):
        raise Invalid(f"language: {language[:40]!r} is not a language tag; give one such as 'de' or 'pt-BR'")
    if language is None:
        wanted = request.headers.get("accept-language")
        language = negotiate(wanted, procedure.languages(), procedure.language)
    return JSONResponse({"procedure": procedure.to_json(language)})


async def run_start(request: Request) -> JSONResponse:
    """A customer starts the procedure: a new case and session; the page joins the session with the
    link token answered here, with the consent it sends in its join."""
    link, procedure = await _link_or_error(request)
    await parse_json(request, RunStartBody)
    found = services(request)
    started = await run_blocking(
        selfhelp.start_run,
        found.db,
        link,
        procedure.spec.title,
        procedure.spec.device.model,
        found.settings.link_ttl_s,
    )
    return JSONResponse(
        {"run_id": started.run.id, "session_id": started.run.session_id, "join_token": started.join_token},
        status_code=201,
    )


# --- the customer's run, by its session's customer link ------------------------------------------------


async def _run_session(request: Request, *, live_only: bool = True) -> str:
    check = await run_blocking(check_link, services(request).db, request.path_params["token"])
    if check.session_id is None:
        raise NotFound("this link is not valid; open the self-help link again")
    if live_only and check.problem is not None:
        raise Conflict(
            f"this session cannot be used any more ({check.problem}); open the self-help link again"
        )
    return check.session_id


async def run_place(request: Request) -> JSONResponse:
    """Where the run stands: its state, the place in the queue and a rough wait while waiting."""
    session_id = await _run_session(request, live_only=False)
    place = await run_blocking(selfhelp.queue_place, services(request).db, session_id)
    return JSONResponse(place_json(place))


async def run_done(request: Request) -> JSONResponse:
    """The customer's "Done" tap on a step the camera cannot check."""
    session_id = await _run_session(request)
    body = await parse_json(request, DoneBody)
    await run_blocking(selfhelp.run_of_session, services(request).db, session_id)  # a self-help session
    position = await owners.customer_step_done(services(request), session_id, body.step_id)
    if position is None:
        raise Conflict("you are not connected to the session; wait for the camera to reconnect and tap again")
    return JSONResponse(position.to_json())


async def run_escalate(request: Request) -> JSONResponse:
    """ "Talk to an expert" (or "No" at the end): the run joins the queue at the step the session is on."""
    session_id = await _run_session(request)
    body = await parse_json(request, EscalateBody, empty_ok=True)
    found = services(request)
    position = await owners.step_position(found, session_id)
    step_id = position.step_id if position is not None else None
    await run_blocking(selfhelp.escalate, found.db, session_id, body.reason, step_id, found.procedures.get)
    place = await run_blocking(selfhelp.queue_place, found.db, session_id)
    return JSONResponse(place_json(place))


async def run_fixed(request: Request) -> JSONResponse:
    """ "Yes, it is fixed": the case closes as ``fixed_by_self_help`` with the step the session is on,
    and the session ends (its recording finalised)."""
    session_id = await _run_session(request)
    found = services(request)
    position = await owners.step_position(found, session_id)
    step_id = position.step_id if position is not None else None
    run = await run_blocking(selfhelp.mark_fixed, found.db, session_id, step_id, found.procedures.get)
    if not await owners.end_session(found, session_id, FIXED_REASON):
        await run_blocking(mark_ended, found.db, session_id, FIXED_REASON)
    return JSONResponse({"state": run.state, "fixed_by_step": step_id})


def routes() -> list[Route]:
    return [
        Route("/api/procedures/{procedure_id}/self-help", link_create, methods=["POST"]),
        Route("/api/self-help/links", links_list, methods=["GET"]),
        Route("/api/self-help/links/{link_id}/revoke", link_revoke, methods=["POST"]),
        Route("/help/{token}", help_page, methods=["GET"]),
        Route("/help/{token}/qr.svg", help_qr, methods=["GET"]),
        Route("/help/{token}/procedure", help_procedure, methods=["GET"]),
        Route("/help/{token}/runs", run_start, methods=["POST"]),
        Route("/join/{token}/self-help", run_place, methods=["GET"]),
        Route("/join/{token}/self-help/done", run_done, methods=["POST"]),
        Route("/join/{token}/self-help/escalate", run_escalate, methods=["POST"]),
        Route("/join/{token}/self-help/fixed", run_fixed, methods=["POST"]),
    ]
