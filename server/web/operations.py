"""What each API route takes and answers, declared on its handler, for the answer and the document.

``@responds(CaseWithSessions, status=201, body=CaseCreate)`` on a handler: the handler returns
plain data (or a model), which is checked and serialised by the model here, and the same
declaration is what ``openapi.py`` writes into ``/api/openapi.json``. A handler may still return a
``Response`` of its own (a file, a redirect), which goes out as it is.

Why check every answer: the model is the one definition of the answer's shape; a presenter that
drifts from it fails here, loudly, in the tests, rather than in a client.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Access = Literal["anyone", "staff", "editor", "admin", "link"]


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class HeaderParam:
    """A request header the operation reads (beyond authentication), for the document."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Binary:
    """An answer that is a file, not JSON: its media type."""

    media_type: str
    description: str


@dataclass(frozen=True)
class Operation:
    summary: str
    access: Access
    answer: Any  # a model or type (JSON), a Binary, or None (no content)
    status: int = 200
    body: type[BaseModel] | None = None
    body_optional: bool = False  # an empty body is the model's defaults
    query: tuple[QueryParam, ...] = ()
    paged: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    # Other answers the handler returns itself (as a Response), by status: documented, not checked here.
    also: Mapping[int, Any] = field(default_factory=dict)
    request_headers: tuple[HeaderParam, ...] = ()

    @functools.cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.answer)


Handler = Callable[[Request], Awaitable[Any]]
Endpoint = Callable[[Request], Awaitable[Response]]
OPERATION_ATTRIBUTE = "operation"


def responds(
    answer: Any,
    *,
    summary: str,
    access: Access,
    status: int = 200,
    body: type[BaseModel] | None = None,
    body_optional: bool = False,
    query: tuple[QueryParam, ...] = (),
    paged: bool = False,
    headers: Mapping[str, str] | None = None,
    also: Mapping[int, Any] | None = None,
    request_headers: tuple[HeaderParam, ...] = (),
) -> Callable[[Handler], Endpoint]:
    """Declare what a handler answers (see the module's docstring)."""
    operation = Operation(
        summary,
        access,
        answer,
        status,
        body,
        body_optional,
        query,
        paged,
        headers=dict(headers or {}),
        also=dict(also or {}),
        request_headers=request_headers,
    )

    def wrap(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            result = await handler(request)
            if isinstance(result, Response):
                return result
            if operation.answer is None:
                return Response(status_code=operation.status, headers=dict(operation.headers))
            checked = operation.adapter.validate_python(result)
            return JSONResponse(
                operation.adapter.dump_python(checked, mode="json", by_alias=True),
                status_code=operation.status,
                headers=dict(operation.headers),
            )

        setattr(endpoint, OPERATION_ATTRIBUTE, operation)
        return endpoint

    return wrap


def operation_of(endpoint: Callable[..., Any]) -> Operation | None:
    found = getattr(endpoint, OPERATION_ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None
