"""The HTML pages: sign-in gates, the customer link check and its script-free error pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.clock import utcnow
from server.records.models import RepairSession
from server.web import pages

PAGES = ("login.html", "home.html", "case.html", "console.html", "customer.html")


@pytest.fixture
def client_web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-in page files, each naming itself, so a test sees which one was served."""
    directory = tmp_path / "client_web"
    directory.mkdir()
    for name in PAGES:
        (directory / name).write_text(
            f"<!doctype html><title>{name}</title><script type=module src=/x.js></script>"
        )
    monkeypatch.setattr(pages, "CLIENT_WEB_DIR", directory)
    return directory


def served(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    for name in PAGES:
        if f"<title>{name}</title>" in response.text:
            return name
    raise AssertionError(f"not one of the pages: {response.text[:200]}")


def new_session(expert_client: TestClient) -> dict:
    case = expert_client.post("/api/cases", json={"title": "Boiler"}).json()
    return expert_client.post(f"/api/cases/{case['id']}/sessions").json()


def join_path(session: dict) -> str:
    return "/join/" + session["customer_url"].rsplit("/", 1)[1]


def test_home_is_the_login_page_when_signed_out(client_web: Path, client: TestClient) -> None:
    assert served(client.get("/")) == "login.html"
    assert served(client.get("/?next=/cases/abc")) == "login.html"


def test_home_is_the_console_home_when_signed_in(client_web: Path, expert_client: TestClient) -> None:
    assert served(expert_client.get("/")) == "home.html"


@pytest.mark.parametrize(
    ("path", "page"), [("/cases/abc123", "case.html"), ("/console/xyz789", "console.html")]
)
def test_staff_pages_redirect_to_sign_in_then_serve(
    client_web: Path, client: TestClient, trainer_client: TestClient, path: str, page: str
) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/?next={path}"
    assert served(trainer_client.get(path)) == page


def test_a_bearer_token_does_not_open_staff_pages(
    client_web: Path, client: TestClient, admin_token: str
) -> None:
    response = client.get(
        "/cases/abc", headers={"Authorization": f"Bearer {admin_token}"}, follow_redirects=False
    )
    assert response.status_code == 303


def test_pages_carry_security_headers(client_web: Path, client: TestClient) -> None:
    headers = client.get("/").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "style-src 'self' 'unsafe-inline'" in csp
    assert "media-src 'self' blob: mediastream:" in csp
    assert "connect-src 'self' wss://testserver ws://testserver" in csp
    assert "'unsafe-eval'" not in csp


def test_a_strange_host_header_stays_out_of_the_csp() -> None:
    assert "evil" not in pages.content_security_policy("x; script-src evil.example")
    assert "wss://[::1]:8443" in pages.content_security_policy("[::1]:8443")


def test_a_valid_link_serves_the_customer_page(client_web: Path, client: TestClient, expert_client) -> None:
    session = new_session(expert_client)
    assert served(client.get(join_path(session))) == "customer.html"


def assert_script_free_error(response, status: int, title: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in response.text
    assert "ask the expert for a new" in response.text.lower()
    assert "<script" not in response.text.lower()
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_link_is_a_404_page_without_script(client_web: Path, client: TestClient) -> None:
    response = client.get("/join/" + "x" * 32)
    assert_script_free_error(response, 404, "This link is not valid")


def test_an_expired_link_is_a_410_page_without_script(
    app: Starlette, client_web: Path, client: TestClient, expert_client: TestClient
) -> None:
    session = new_session(expert_client)
    with app.state.services.db.session() as s:
        row = s.get(RepairSession, session["id"])
        assert row is not None
        row.token_expires_at = utcnow() - timedelta(seconds=1)
    assert_script_free_error(client.get(join_path(session)), 410, "This link has expired")


def test_an_ended_session_link_is_a_410_page_without_script(
    client_web: Path, client: TestClient, expert_client: TestClient
) -> None:
    session = new_session(expert_client)
    assert expert_client.post(f"/api/sessions/{session['id']}/end").status_code == 200
    assert_script_free_error(client.get(join_path(session)), 410, "This session has ended")


def test_a_live_session_can_be_rejoined_after_the_link_expires(
    app: Starlette, client_web: Path, client: TestClient, expert_client: TestClient
) -> None:
    session = new_session(expert_client)
    with app.state.services.db.session() as s:
        row = s.get(RepairSession, session["id"])
        assert row is not None
        row.state = "live"
        row.token_expires_at = utcnow() - timedelta(seconds=1)
    assert served(client.get(join_path(session))) == "customer.html"


def test_a_missing_page_file_is_a_clear_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    monkeypatch.setattr(pages, "CLIENT_WEB_DIR", tmp_path / "nowhere")
    response = client.get("/")
    assert response.status_code == 500
    assert "Page missing" in response.text and "login.html" in response.text
