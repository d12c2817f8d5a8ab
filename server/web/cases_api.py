"""Cases: list, create, read and change them (``docs/api-contract.md``).

``POST /api/cases`` with an ``Idempotency-Key`` header makes one case per key, as Stripe's API does:
the same key with the same request answers 200 with the case the first made; with another request,
409. An integration may ask for the link to send the customer (``link``: a self-help run of the
case's procedure, or a session an expert joins).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..blocking import run_blocking
from ..records import selfhelp
from ..records.accounts import Principal
from ..records.cases import insert_case, insert_case_once, list_cases, load_case, update_case
from ..records.models import Case
from ..records.sessions import insert_session
from ..records.vocabulary import CaseSource
from .auth import EDITORS, require_role, require_staff
from .bodies import CaseCreate, CasePatch, parse_json
from .errors import ApiError
from .operations import HeaderParam, responds
from .pagination import page_fields, page_request
from .presenters import case_json, case_with_sessions_json, customer_url
from .procedures_api import check_procedure_id, step_ids_of
from .response_models import CaseCreated, CasePage, CaseWithSessions, ErrorAnswer
from .selfhelp_api import help_url
from .state import services

IDEMPOTENCY_HEADER = "idempotency-key"
# Printable ASCII, 1 to 255 characters (a UUID, a CRM's ticket id and event): what a header carries safely.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
IDEMPOTENCY_PARAM = HeaderParam(
    "Idempotency-Key",
    "Makes one case per key: a retry with the same key and request answers the same case (200); the "
    "same key with another request is refused (409).",
    {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
)


@responds(CasePage, summary="The cases, newest first", access="staff", paged=True)
async def cases_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    page = page_request(request)
    rows, total = await run_blocking(list_cases, services(request).db, page.offset, page.limit)
    return {
        "cases": [{**case_json(case), "session_count": count} for case, count in rows],
        **page_fields(page, len(rows), total),
    }


def source_of(request: Request) -> CaseSource:
    """``api`` for a caller with an API token (an integration, a script), else ``console``."""
    scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
    return "api" if scheme == "bearer" else "console"


def idempotency_key_of(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400,
            "bad_request",
            "the Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces "
            "(a UUID is a good key)",
        )
    return key


def request_fingerprint(body: CaseCreate, principal: Principal) -> str:
    """The SHA-256 of who sent the request and what it asked for: the same key with another request
    (or from another user) is refused, never answered with someone else's case."""
    sent = json.dumps({"user": principal.user_id, "body": body.model_dump()}, sort_keys=True)
    return hashlib.sha256(sent.encode("utf-8")).hexdigest()


async def make_link(request: Request, case: Case, body: CaseCreate, principal: Principal) -> dict[str, Any]:
    """The link the request asked for, on the new case: a session's customer link, or a self-help
    link whose runs go on this case. Its URL is known in clear only here."""
    found = services(request)
    if body.link == "expert":
        row, token = await run_blocking(
            insert_session, found.db, case.id, principal.user_id, found.settings.link_ttl_s
        )
        url = customer_url(request, token)
        return {
            "kind": "expert",
            "url": url,
            "qr_svg_url": None,
            "session_id": row.id,
            "self_help_link_id": None,
        }
    assert body.procedure_id is not None
    label = f"case {body.external_reference or case.id}"[:200]
    link, token = await run_blocking(
        selfhelp.create_link, found.db, body.procedure_id, label, principal.user_id, case.id
    )
    url = help_url(request, token)
    return {
        "kind": "self_help",
        "url": url,
        "qr_svg_url": f"{url}/qr.svg",
        "session_id": None,
        "self_help_link_id": link.id,
    }


async def replayed_link(request: Request, case: Case) -> dict[str, Any] | None:
    """What a replay says of the link the first request made: which one, never its URL (only its
    hash is kept)."""
    if case.sessions:
        return {
            "kind": "expert",
            "url": None,
            "qr_svg_url": None,
            "session_id": case.sessions[0].id,
            "self_help_link_id": None,
        }
    links = await run_blocking(selfhelp.links_of_case, services(request).db, case.id)
    if links:
        return {
            "kind": "self_help",
            "url": None,
            "qr_svg_url": None,
            "session_id": None,
            "self_help_link_id": links[0].id,
        }
    return None


@responds(
    CaseCreated,
    summary="Create a case (with Idempotency-Key: once per key)",
    access="editor",
    status=201,
    body=CaseCreate,
    also={200: CaseCreated, 409: ErrorAnswer},
    request_headers=(IDEMPOTENCY_PARAM,),
)
async def cases_create(request: Request) -> dict[str, Any] | JSONResponse:
    principal = await run_blocking(require_role, request, *EDITORS)
    key = idempotency_key_of(request)
    body = await parse_json(request, CaseCreate)
    check_procedure_id(request, body.procedure_id)
    if body.link == "self_help" and body.procedure_id is None:
        raise ApiError(422, "invalid", "link: a self_help link runs a procedure; send procedure_id too")
    db = services(request).db
    fields = body.model_dump(exclude={"link"})
    if key is None:
        case = await run_blocking(insert_case, db, fields, principal.user_id, source_of(request))
        made = True
    else:
        fingerprint = request_fingerprint(body, principal)
        case, made = await run_blocking(
            insert_case_once, db, fields, principal.user_id, source_of(request), key, fingerprint
        )
    if not made:
        case = await run_blocking(load_case, db, case.id)
        link = await replayed_link(request, case) if body.link else None
        answer = CaseCreated.model_validate({**await case_with_sessions_json(request, case), "link": link})
        return JSONResponse(answer.model_dump(mode="json"), headers={"Idempotent-Replayed": "true"})
    link = await make_link(request, case, body, principal) if body.link else None
    if link is not None:
        case = await run_blocking(load_case, db, case.id)
    return {**await case_with_sessions_json(request, case), "link": link}


@responds(CaseWithSessions, summary="A case with its sessions", access="staff")
async def case_get(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    case = await run_blocking(load_case, services(request).db, request.path_params["case_id"])
    return await case_with_sessions_json(request, case)


@responds(CaseWithSessions, summary="Change a case", access="editor", body=CasePatch)
async def case_patch(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *EDITORS)
    body = await parse_json(request, CasePatch)
    check_procedure_id(request, body.procedure_id)
    case = await run_blocking(
        update_case,
        services(request).db,
        request.path_params["case_id"],
        body.model_dump(include=body.model_fields_set),
        step_ids_of(request),
    )
    return await case_with_sessions_json(request, case)


def routes() -> list[Route]:
    return [
        Route("/api/cases", cases_list, methods=["GET"]),
        Route("/api/cases", cases_create, methods=["POST"]),
        Route("/api/cases/{case_id}", case_get, methods=["GET"]),
        Route("/api/cases/{case_id}", case_patch, methods=["PATCH"]),
    ]
