"""HTTP errors as JSON: ``{"error": {"code": ..., "message": ...}}`` with the right status.

The one place that turns errors into status codes: ``ApiError`` for what only HTTP knows (not
signed in, a body too large), and every ``server.errors`` domain error by its class.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..cluster import ClusterError
from ..errors import Conflict, DomainError, Invalid, NotFound

DOMAIN_STATUS: dict[type[DomainError], int] = {NotFound: 404, Conflict: 409, Invalid: 422}


class ApiError(Exception):
    """An error a user or client caused; ``message`` says what was wrong and what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def status_of(exc: DomainError) -> int:
    for kind, status in DOMAIN_STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


async def handle_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


async def handle_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(status_of(exc), exc.code, exc.message)


async def handle_cluster_error(_request: Request, exc: Exception) -> Response:
    """The process holding a session cannot be reached or none takes new ones: try again later."""
    assert isinstance(exc, ClusterError)
    return error_response(503, exc.code, exc.message)


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal",
}


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, "error"), str(exc.detail))


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    DomainError: handle_domain_error,
    ClusterError: handle_cluster_error,
    HTTPException: handle_http_exception,
}
