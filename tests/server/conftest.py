"""Shared fixtures: one in-process server per test, and browsers or scripts signed in to it.

``client`` runs the app's lifespan (so ``app.state.services.live`` exists). The signed-in clients are
more browsers on that same server: they share ``client``'s event loop, so a test can use an
expert, a trainer and an anonymous visitor side by side with separate cookies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.records import accounts as auth
from tests.server.databases import DATABASES, database_url_for, default_database


def add_user(app: Starlette, username: str, role: str) -> str:
    """Create a staff account directly in the database; returns its password."""
    password = f"{username}-correct-horse"
    auth.create_user(app.state.services.db, username, role, password)
    return password


def browser(app: Starlette, client: TestClient) -> TestClient:
    """Another client on ``client``'s running server (its portal, hence its lifespan and loop)."""
    other = TestClient(app)
    other.portal = client.portal
    return other


def signed_in(app: Starlette, client: TestClient, username: str, role: str) -> Iterator[TestClient]:
    other = browser(app, client)
    password = add_user(app, username, role)
    response = other.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    yield other
    other.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_databases`` that use ``database_url`` run on SQLite and on PostgreSQL."""
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("database_url", DATABASES, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The test's database: None (SQLite in its data directory) or its own PostgreSQL database
    (``tests/server/databases.py``)."""
    with database_url_for(getattr(request, "param", None) or default_database()) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test", database=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(settings)
    yield application
    application.state.services.db.close()


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """An anonymous visitor; entering it runs the lifespan for every client of this test."""
    with TestClient(app) as anonymous:
        yield anonymous


@pytest.fixture
def expert_client(app: Starlette, client: TestClient) -> Iterator[TestClient]:
    yield from signed_in(app, client, "erin", "expert")


@pytest.fixture
def trainer_client(app: Starlette, client: TestClient) -> Iterator[TestClient]:
    yield from signed_in(app, client, "tom", "trainer")


@pytest.fixture
def admin_client(app: Starlette, client: TestClient) -> Iterator[TestClient]:
    yield from signed_in(app, client, "ada", "admin")


@pytest.fixture
def admin_token(app: Starlette) -> str:
    """A bearer API token of an admin named ``root`` (send it as ``Authorization: Bearer ...``)."""
    add_user(app, "root", "admin")
    user = auth.find_user(app.state.services.db, "root")
    assert user is not None
    return auth.create_api_token(app.state.services.db, user, "tests")
