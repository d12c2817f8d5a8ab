"""Schemathesis against ``/api/v1/openapi.json``, on an in-process app: every documented operation,
signed in as an admin (an API token) and signed out, gets generated requests: with the ids of a
real case, session and user (so the answers with content are checked too), with generated ids,
and invalid ones. No answer may be a 5xx, and every answer must match the document (status,
content type, headers, body).

Bounded (``MAX_EXAMPLES`` per operation) so it runs with the rest of ``./run test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.records.accounts import create_api_token, create_user
from server.web.openapi import document
from server.web.routes import all_routes
from tests.server.seeded_recordings import board_session_events, seed_session

MAX_EXAMPLES = 5  # per operation, for each of its three kinds of requests, signed in and out
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Kept out: it would end the admin's own token, and the link would not be checked again.
SKIPPED_OPERATIONS = ("POST /api/v1/users/{user_id}/disable",)


class Site:
    def __init__(self, tmp_path: Path) -> None:
        self.app: Starlette = create_app(Settings(data_dir=tmp_path, secret_key="test"))
        db = self.app.state.services.db
        admin = create_user(db, "ada", "admin", "correct horse battery")
        self.auth = {"Authorization": f"Bearer {create_api_token(db, admin)}"}
        with TestClient(self.app, headers=self.auth) as client:
            # A recorded session (a real WebM and event log), and two not yet joined: one to end,
            # one whose link the customer's page uses.
            recorded = seed_session(self.app, client, events=board_session_events())
            to_end = client.post(f"/api/v1/cases/{recorded['case_id']}/sessions").json()
            linked = client.post(f"/api/v1/cases/{recorded['case_id']}/sessions").json()
            self.document: dict[str, Any] = client.get("/api/v1/openapi.json").json()
        other = create_user(db, "erin", "expert", "another long password")
        with TestClient(self.app) as client:
            client.post("/api/v1/login", json={"username": "erin", "password": "another long password"})
            sign_in = client.get("/api/v1/sign-ins", headers=self.auth).json()["sign_ins"][0]
        self.examples = {
            "case_id": recorded["case_id"],
            "session_id": recorded["session_id"],
            "user_id": other.id,
            "token": linked["customer_url"].rsplit("/", 1)[1],
            "procedure_id": "board-connector-reseat",
            "sign_in_id": sign_in["id"],
        }
        self.examples_of_path = {"/api/v1/sessions/{session_id}/end": {"session_id": to_end["id"]}}

        self.schema = schemathesis.openapi.from_dict(self.document)
        self.schema.app = self.app


OPERATIONS = [
    (method.upper(), path)
    for path, methods in document(all_routes())["paths"].items()
    for method in methods
    if f"{method.upper()} {path}" not in SKIPPED_OPERATIONS
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield Site(tmp_path_factory.mktemp("site"))
    asgi.shutdown_lifespans()


def check_operation(site: Site, method: str, path: str, headers: dict[str, str]) -> None:
    """The operation with its real ids (valid data), then with generated ids (valid, then invalid)."""
    operation = site.schema[path][method]
    names = path_names(path)
    strategies = [operation.as_strategy()]
    if names:
        real_ids = {name: site.examples.get(name, "none-such") for name in names}
        real_ids.update(site.examples_of_path.get(path, {}))
        strategies.append(operation.as_strategy(path_parameters=real_ids))
    if names or operation.body or operation.query:  # something to make invalid
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    for strategy in strategies:

        @HYPOTHESIS
        @given(case=strategy)
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()


def path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_as_an_admin_answers_as_documented(site: Site, method: str, path: str) -> None:
    check_operation(site, method, path, site.auth)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_signed_out_answers_as_documented(site: Site, method: str, path: str) -> None:
    check_operation(site, method, path, {})
