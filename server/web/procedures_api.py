"""The procedures API: the library the server loaded, one procedure as JSON, its images, its mat.

The library is loaded once in ``create_app``; procedures are files on
disk that change only with a restart, so these handlers do no I/O beyond serving the reference
file. Everything here is for signed-in staff: the customer's phone gets a procedure's steps over
the session's WebSocket, not from this API.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from procedures import LoadedProcedure, ProcedureLibrary

from ..blocking import run_blocking
from ..records.cases import StepIdsOf
from .auth import require_staff
from .errors import ApiError
from .operations import Binary, responds
from .pagination import page_of, page_request
from .response_models import Procedure, ProcedurePage
from .state import services


def library_of(request: Request) -> ProcedureLibrary:
    return services(request).procedures


def step_ids_of(request: Request) -> StepIdsOf:
    """``procedure id -> its step ids`` (None when it is not loaded), for checking ``fixed_by_step``."""
    library = library_of(request)

    def step_ids(procedure_id: str) -> tuple[str, ...] | None:
        loaded = library.get(procedure_id)
        return None if loaded is None else tuple(loaded.step_ids())

    return step_ids


def unknown_procedure(procedure_id: str) -> ApiError:
    return ApiError(404, "not_found", f"there is no procedure {procedure_id!r}; see GET /api/procedures")


def check_procedure_id(request: Request, procedure_id: str | None) -> None:
    """Refuse (422) a case's ``procedure_id`` that is not in the loaded library; None is "no procedure"."""
    if procedure_id is not None and procedure_id not in library_of(request):
        known = ", ".join(sorted(library_of(request).procedures)) or "none are loaded"
        raise ApiError(
            422,
            "invalid",
            f"procedure_id: there is no procedure {procedure_id!r} (loaded: {known}); "
            "see GET /api/procedures",
        )


async def _procedure(request: Request) -> LoadedProcedure:
    await run_blocking(require_staff, request)
    procedure_id = request.path_params["procedure_id"]
    procedure = library_of(request).get(procedure_id)
    if procedure is None:
        raise unknown_procedure(procedure_id)
    return procedure


@responds(ProcedurePage, summary="The procedures loaded, by title", access="staff", paged=True)
async def procedures_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    library = library_of(request)
    procedures, paging = page_of(library.summaries(), page_request(request))
    return {"procedures": procedures, **paging, "errors": [error.to_json() for error in library.errors]}


@responds(Procedure, summary="A procedure: device, steps, marks, completion rules", access="staff")
async def procedure_get(request: Request) -> dict[str, Any]:
    procedure = await _procedure(request)
    return procedure.to_json()


@responds(
    Binary("image/png, image/jpeg", "the image the marks are drawn in"),
    summary="A procedure's reference image",
    access="staff",
)
async def procedure_reference(request: Request) -> Response:
    """The image annotations are drawn in: the reference file, or the rendered mat as PNG."""
    procedure = await _procedure(request)
    path = procedure.reference_path()
    if path is not None:
        return FileResponse(path)
    png = await run_blocking(procedure.reference_png)
    return Response(png, media_type="image/png")


@responds(
    Binary("application/pdf", "the mat, A4 at true size"),
    summary="The printable marker mat of an aruco procedure",
    access="staff",
)
async def procedure_mat(request: Request) -> Response:
    """The printable mat of an aruco procedure (A4 PDF at true size)."""
    procedure = await _procedure(request)
    pdf = await run_blocking(procedure.mat_pdf)
    if pdf is None:
        raise ApiError(
            404,
            "not_found",
            f"procedure {procedure.id!r} is anchored by features of the device, not by a printed mat; "
            "it has no mat to print",
        )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="repairsight-mat-{procedure.id}.pdf"'},
    )


def routes() -> list[Route]:
    return [
        Route("/api/procedures", procedures_list, methods=["GET"]),
        Route("/api/procedures/{procedure_id}", procedure_get, methods=["GET"]),
        Route("/api/procedures/{procedure_id}/reference", procedure_reference, methods=["GET"]),
        Route("/api/procedures/{procedure_id}/mat.pdf", procedure_mat, methods=["GET"]),
    ]
