"""``GET /api/openapi.json``: the API as an OpenAPI 3.1 document, made from the routes' declarations.

Every route declared with ``operations.responds`` is written from its models (request bodies in
pydantic's validation mode, answers in its serialisation mode), so what the document says is what
the handlers check. Paths are written under ``/api/v1/`` (``api_versions.py``); the unversioned
aliases are not repeated. ``GET /api/docs`` is a page of this server's own that reads the document
and shows it (no CDN, so it works where the site has no internet).

OpenAPI 3.1: https://spec.openapis.org/oas/v3.1.0 (its schemas are JSON Schema 2020-12, which
pydantic writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .api_versions import CURRENT, UNVERSIONED
from .operations import Binary, Operation, operation_of, responds
from .pages import static_page
from .pagination import MAX_LIMIT
from .response_models import ErrorAnswer

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
SESSION_COOKIE = "repairsight_session"
REF_TEMPLATE = "#/components/schemas/{model}"

ACCESS_TEXT = {
    "anyone": "Anyone.",
    "link": "Anyone with the customer's link (its token is in the path).",
    "staff": "Staff: a signed-in expert, trainer or admin.",
    "editor": "An expert or admin (trainers may only read).",
    "admin": "An admin.",
}
SIGNED_IN: list[dict[str, list[str]]] = [{"cookie": []}, {"bearer": []}]
PAGE_QUERY = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"items per page, 1 to {MAX_LIMIT} (default 50)",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "next_cursor of the previous page",
        "schema": {"type": "string"},
    },
]


class _Schemas:
    """JSON Schemas of models, sharing one ``components/schemas``."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, kind: Any, mode: str) -> dict[str, Any]:
        schema = TypeAdapter(kind).json_schema(mode=mode, ref_template=REF_TEMPLATE)  # type: ignore[arg-type]
        for name, definition in schema.pop("$defs", {}).items():
            self._add(name, definition)
        title = schema.get("title")
        if schema.get("type") == "object" and isinstance(title, str) and "properties" in schema:
            self._add(title, schema)
            return {"$ref": REF_TEMPLATE.format(model=title)}
        return schema

    def _add(self, name: str, definition: dict[str, Any]) -> None:
        known = self.components.setdefault(name, definition)
        if known != definition:
            raise ValueError(f"two different schemas are both named {name!r}; rename one of the models")


def _error_responses(schemas: _Schemas) -> dict[str, Any]:
    error = {"application/json": {"schema": schemas.of(ErrorAnswer, "serialization")}}
    return {
        "4XX": {"description": "refused: `message` says why and what to do", "content": error},
        "503": {"description": "the process holding a session is unreachable; try again", "content": error},
    }


def _answer(answer: Any, schemas: _Schemas) -> dict[str, Any]:
    if answer is None:
        return {"description": "done (no content)"}
    if isinstance(answer, Binary):
        return {
            "description": answer.description,
            "content": {
                media_type.strip(): {"schema": {"type": "string", "format": "binary"}}
                for media_type in answer.media_type.split(",")
            },
        }
    schema = schemas.of(answer, "serialization")
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _parameters(path: str, operation: Operation) -> list[dict[str, Any]]:
    names = [part[1:-1].partition(":")[0] for part in path.split("/") if part.startswith("{")]
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names
    ]
    for query in operation.query:
        params.append(
            {"name": query.name, "in": "query", "description": query.description, "schema": {**query.schema}}
        )
    for header in operation.request_headers:
        params.append(
            {
                "name": header.name,
                "in": "header",
                "description": header.description,
                "schema": {**header.schema},
            }
        )
    return params + (PAGE_QUERY if operation.paged else [])


def _operation(path: str, method: str, operation: Operation, schemas: _Schemas) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": f"{method}_{path}".replace("/", "_").replace("{", "").replace("}", ""),
        "summary": operation.summary,
        "description": ACCESS_TEXT[operation.access],
        "security": [] if operation.access in ("anyone", "link") else SIGNED_IN,
        "responses": {
            str(operation.status): _answer(operation.answer, schemas),
            **_error_responses(schemas),
            **{str(status): _answer(answer, schemas) for status, answer in operation.also.items()},
        },
    }
    parameters = _parameters(path, operation)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {
            "required": not operation.body_optional,
            "content": {"application/json": {"schema": schemas.of(operation.body, "validation")}},
        }
    return described


def public_path(path: str) -> str:
    """``/api/cases`` -> ``/api/v1/cases``: the address the document gives."""
    return CURRENT + path[len(UNVERSIONED) :] if path.startswith(UNVERSIONED) else path


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of every declared route among ``routes``."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        operation = operation_of(route.endpoint)
        if operation is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            path = public_path(route.path)
            paths.setdefault(path, {})[method.lower()] = _operation(path, method.lower(), operation, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "RepairSight API",
            "version": API_VERSION,
            "description": "Cases, sessions, recordings, procedures and staff accounts of a RepairSight "
            "server (docs/api-contract.md). Authenticate with the sign-in cookie (POST /api/v1/login) "
            "or `Authorization: Bearer <token>` (`repairsight token create`).",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token"},
            },
        },
    }


@responds(dict[str, Any], summary="This document (OpenAPI 3.1)", access="anyone")
async def openapi_json(request: Request) -> Response:
    return JSONResponse(document(request.app.routes))


async def api_docs(request: Request) -> Response:
    return static_page(request, "api-docs.html")


def routes() -> list[Route]:
    return [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/docs", api_docs, methods=["GET"]),
    ]
