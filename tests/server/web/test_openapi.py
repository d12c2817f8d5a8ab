"""The OpenAPI document and the declarations it is made from (``server/web/openapi.py``,
``server/web/operations.py``). The schemathesis run (``test_openapi_schemathesis.py``) checks the
answers of the real routes against it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.web.openapi import document
from server.web.operations import Binary, operation_of, responds
from server.web.routes import all_routes

# Answers that are not the API: the documentation page itself.
NOT_OPERATIONS = {"/api/docs"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path, secret_key="test"))) as client:
        yield client


def test_the_document_is_openapi_3_1_at_both_addresses(client: TestClient) -> None:
    current = client.get("/api/v1/openapi.json")
    assert current.status_code == 200 and current.headers["content-type"] == "application/json"
    spec = current.json()
    assert spec["openapi"] == "3.1.0" and spec["info"]["title"] == "RepairSight API"
    # The unversioned address answers the same, marked as the old one (api_versions.py).
    old = client.get("/api/openapi.json")
    assert old.json() == spec and old.headers["sunset"]
    # Paths are written at the stable address; every $ref names a schema the document has.
    assert "/api/v1/cases/{case_id}" in spec["paths"] and "/api/cases" not in spec["paths"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', current.text))
    assert refs and refs <= set(spec["components"]["schemas"])


def test_every_api_route_is_documented() -> None:
    """A JSON route without ``@responds`` would be missing from the document (and the fuzzing)."""
    undocumented = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in all_routes()
        if isinstance(route, Route)
        and route.path.startswith("/api/")
        and route.path not in NOT_OPERATIONS
        and operation_of(route.endpoint) is None
    ]
    assert undocumented == [], "declare these with server.web.operations.responds"


def test_the_document_says_who_may_call_and_what_comes_back(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    case_create = spec["paths"]["/api/v1/cases"]["post"]
    assert case_create["security"] == [{"cookie": []}, {"bearer": []}]
    assert case_create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CaseCreate"
    }
    assert set(case_create["responses"]) == {"200", "201", "409", "4XX", "503"}  # 200: a replay
    [key] = case_create["parameters"]
    assert (key["name"], key["in"], key["schema"]["pattern"]) == (
        "Idempotency-Key",
        "header",
        "^[\\x21-\\x7e]{1,255}$",
    )
    assert spec["paths"]["/api/v1/login"]["post"]["security"] == []
    # The request model's rules are the document's: title 1 to 200 characters, no other fields.
    case_body = spec["components"]["schemas"]["CaseCreate"]
    assert case_body["properties"]["title"]["maxLength"] == 200 and case_body["additionalProperties"] is False
    session = spec["components"]["schemas"]["SessionAnswer"]
    assert session["properties"]["state"]["enum"] == ["created", "live", "ended"]
    media = spec["paths"]["/api/v1/sessions/{session_id}/recording/media"]["get"]["responses"]["200"]
    assert media["content"] == {"video/webm": {"schema": {"type": "string", "format": "binary"}}}
    cases = spec["paths"]["/api/v1/cases"]["get"]
    assert [p["name"] for p in cases["parameters"]] == ["limit", "cursor"]


class Thing(BaseModel):
    name: str
    count: int


@responds(Thing, summary="a thing", access="anyone", status=201, headers={"Cache-Control": "no-store"})
async def thing(request: Request) -> object:
    kind = request.query_params.get("kind")
    if kind == "extra":
        return {"name": "x", "count": 1, "secret": "drifted"}
    if kind == "file":
        return PlainTextResponse("a file")
    return {"name": "x", "count": "2"}


def test_an_answer_is_checked_and_serialised_by_its_model() -> None:
    app = Starlette(routes=[Route("/api/thing", thing, methods=["POST"])])
    with TestClient(app) as client:
        made = client.post("/api/thing")
        assert made.status_code == 201 and made.json() == {"name": "x", "count": 2}
        assert made.headers["cache-control"] == "no-store"
        # A Response of the handler's own goes out as it is.
        assert client.post("/api/thing?kind=file").text == "a file"
        # Pydantic ignores an extra field by default, so it never reaches the client undocumented...
        assert client.post("/api/thing?kind=extra").json() == {"name": "x", "count": 1}
    spec = document(app.routes)
    assert spec["paths"]["/api/v1/thing"]["post"]["responses"]["201"]["content"]["application/json"] == {
        "schema": {"$ref": "#/components/schemas/Thing"}
    }


class Strict(BaseModel):
    model_config = {"extra": "forbid"}
    name: str


@responds(Strict, summary="strict", access="anyone")
async def strict(_request: Request) -> object:
    return {"name": "x", "secret": "drifted"}


def test_an_answer_that_drifts_from_its_model_fails_loudly() -> None:
    """... and the API's models forbid extra fields, so a presenter that drifts fails its tests."""
    app = Starlette(routes=[Route("/api/strict", strict, methods=["GET"])])
    with TestClient(app) as client, pytest.raises(ValidationError):
        client.get("/api/strict")


async def _file(_request: Request) -> Response:
    return Response(b"")


def test_binary_answers_and_two_models_of_one_name() -> None:
    binary = responds(Binary("image/png, image/jpeg", "a picture"), summary="p", access="staff")(_file)
    spec = document([Route("/api/picture", binary, methods=["GET"])])
    content = spec["paths"]["/api/v1/picture"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"image/png", "image/jpeg"}
    assert spec["paths"]["/api/v1/picture"]["get"]["security"] == [{"cookie": []}, {"bearer": []}]

    class Thing(BaseModel):  # another model of the same name: the document would be ambiguous
        other: bool

    clash = responds(Thing, summary="t", access="anyone")(_file)
    first = responds(globals()["Thing"], summary="t", access="anyone")(_file)
    with pytest.raises(ValueError, match="two different schemas are both named 'Thing'"):
        document([Route("/api/a", first, methods=["GET"]), Route("/api/b", clash, methods=["GET"])])


def test_the_docs_page_is_served_from_this_site_only(client: TestClient) -> None:
    for address in ("/api/docs", "/api/v1/docs"):
        page = client.get(address)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/js/api-docs.js" in sources
    assert all(not source.startswith(("http:", "https:", "//")) for source in sources), sources
    script = client.get("/static/js/api-docs.js")
    assert script.status_code == 200 and "/api/v1/openapi.json" in script.text
