"""Cross-site request forgery and WebSocket hijacking from a same-site page (issue 15, finding 2).

``SameSite=Lax`` counts every port of a host as one site, so a page on another port of the
same host sent the signed-in cookie with a ``text/plain`` form (a case created) and opened
``/ws`` as the expert. The cookie now authenticates a state-changing request or a WebSocket
only from the site's own origin, and JSON bodies must say they are JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.config import Settings
from server.web.origin import parse_origin
from signaling.messages import PROTOCOL_VERSION
from tests.server.conftest import signed_in

OWN = "http://testserver"  # the TestClient's own origin (its Host header)
OTHER_PORT = "http://testserver:8081"  # same site, another origin: the attack's page


def test_origins_are_compared_with_their_default_ports_filled_in() -> None:
    assert parse_origin("http://Testserver") == ("http", "testserver", 80)
    assert parse_origin("https://repair.example:443/") == ("https", "repair.example", 443)
    assert parse_origin("wss://repair.example") == ("https", "repair.example", 443)
    assert parse_origin("http://testserver:8081") == ("http", "testserver", 8081)
    for not_an_origin in ("null", "", "file:///etc", "http://", "http://host:99999", "javascript:x"):
        assert parse_origin(not_an_origin) is None


def test_a_cookie_request_from_another_origin_is_refused(expert_client: TestClient) -> None:
    refused = expert_client.post("/api/cases", json={"title": "Forged"}, headers={"Origin": OTHER_PORT})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "cross_origin"
    assert "--public-url" in refused.json()["error"]["message"]
    for origin in ("null", "http://evil.example"):
        answer = expert_client.post("/api/cases", json={"title": "x"}, headers={"Origin": origin})
        assert answer.status_code == 403
    # The browser's own verdict counts first: a same-site page is not this origin.
    forged = {"Origin": OWN, "Sec-Fetch-Site": "same-site"}
    assert expert_client.post("/api/cases", json={"title": "x"}, headers=forged).status_code == 403
    cases = expert_client.get("/api/cases", headers={"Origin": OTHER_PORT})  # reading changes nothing
    assert cases.status_code == 200 and cases.json()["cases"] == []


def test_a_cookie_request_from_the_sites_own_pages_is_accepted(expert_client: TestClient) -> None:
    made = expert_client.post("/api/cases", json={"title": "Printer"}, headers={"Origin": OWN})
    assert made.status_code == 201, made.text
    # Behind a proxy that rewrites Host, the browser's Sec-Fetch-Site still says it is its own page.
    proxied = {"Origin": "https://repair.example", "Sec-Fetch-Site": "same-origin"}
    assert expert_client.post("/api/cases", json={"title": "Router"}, headers=proxied).status_code == 201
    session = expert_client.post(f"/api/cases/{made.json()['id']}/sessions", headers={"Origin": OWN})
    assert session.status_code == 201
    # Scripts and curl send no Origin.
    assert expert_client.post("/api/cases", json={"title": "Scripted"}).status_code == 201


def test_api_tokens_are_unaffected_by_origin(client: TestClient, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}", "Origin": OTHER_PORT}
    assert client.post("/api/cases", json={"title": "From a tool"}, headers=headers).status_code == 201


def test_a_json_body_must_be_sent_as_json(expert_client: TestClient, client: TestClient) -> None:
    body = '{"title": "Forged with a text/plain form"}'
    forms = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")
    for content_type in forms:
        refused = expert_client.post("/api/cases", content=body, headers={"Content-Type": content_type})
        assert refused.status_code == 415, content_type
        assert refused.json()["error"]["code"] == "unsupported_media_type"
        assert "Content-Type: application/json" in refused.json()["error"]["message"]
    assert expert_client.post("/api/cases", content=body).status_code == 415  # no Content-Type at all
    login = client.post("/api/login", content='{"username": "erin", "password": "x"}')
    assert login.status_code == 415
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert expert_client.post("/api/cases", content=body, headers=charset).status_code == 201


def test_a_websocket_from_another_origin_is_refused(expert_client: TestClient) -> None:
    made = expert_client.post("/api/cases", json={"title": "Printer"}).json()
    session = expert_client.post(f"/api/cases/{made['id']}/sessions").json()
    join = {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": session["id"]}
    for headers in ({"Origin": OTHER_PORT}, {"Origin": OWN, "Sec-Fetch-Site": "cross-site"}):
        with pytest.raises(WebSocketDisconnect), expert_client.websocket_connect("/ws", headers=headers):
            pass  # never accepted: the handshake itself is refused
    with expert_client.websocket_connect("/ws", headers={"Origin": OWN}) as ws:
        ws.send_json(join)
        assert ws.receive_json()["type"] == "joined"


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[Starlette]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", public_url="https://repair.example"))
    yield app
    app.state.services.db.close()


def test_behind_a_proxy_the_public_url_is_the_sites_origin(proxied_app: Starlette) -> None:
    with TestClient(proxied_app) as client:
        for expert in signed_in(proxied_app, client, "erin", "expert"):
            public = {"Origin": "https://repair.example"}
            assert expert.post("/api/cases", json={"title": "x"}, headers=public).status_code == 201
            assert expert.post("/api/cases", json={"title": "x"}, headers={"Origin": OWN}).status_code == 201
            other = {"Origin": "https://repair.example:8443"}
            assert expert.post("/api/cases", json={"title": "x"}, headers=other).status_code == 403
