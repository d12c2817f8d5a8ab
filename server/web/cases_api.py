"""Cases: list, create, read and change them (``docs/api-contract.md``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..blocking import run_blocking
from ..records.cases import insert_case, list_cases, load_case, update_case
from .auth import EDITORS, require_role, require_staff
from .bodies import CaseCreate, CasePatch, parse_json
from .pagination import page_fields, page_request
from .presenters import case_json, case_with_sessions_json
from .procedures_api import check_procedure_id, step_ids_of
from .state import services


async def cases_list(request: Request) -> JSONResponse:
    await run_blocking(require_staff, request)
    page = page_request(request)
    rows, total = await run_blocking(list_cases, services(request).db, page.offset, page.limit)
    return JSONResponse(
        {
            "cases": [{**case_json(case), "session_count": count} for case, count in rows],
            **page_fields(page, len(rows), total),
        }
    )


async def cases_create(request: Request) -> JSONResponse:
    principal = await run_blocking(require_role, request, *EDITORS)
    body = await parse_json(request, CaseCreate)
    check_procedure_id(request, body.procedure_id)
    case = await run_blocking(insert_case, services(request).db, body.model_dump(), principal.user_id)
    return JSONResponse(await case_with_sessions_json(request, case), status_code=201)


async def case_get(request: Request) -> JSONResponse:
    await run_blocking(require_staff, request)
    case = await run_blocking(load_case, services(request).db, request.path_params["case_id"])
    return JSONResponse(await case_with_sessions_json(request, case))


async def case_patch(request: Request) -> JSONResponse:
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
    return JSONResponse(await case_with_sessions_json(request, case))


def routes() -> list[Route]:
    return [
        Route("/api/cases", cases_list, methods=["GET"]),
        Route("/api/cases", cases_create, methods=["POST"]),
        Route("/api/cases/{case_id}", case_get, methods=["GET"]),
        Route("/api/cases/{case_id}", case_patch, methods=["PATCH"]),
    ]
