"""The Host header is not trusted (issue 15, finding 9): links are made on the server's own address
or its public URL, requests for any other host are refused, and responses carry ``nosniff`` (and
HSTS under TLS)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.cli import main
from server.cli.options import ServeOptions
from server.config import Settings, check_host_pattern
from server.web.hosts import HostRules, host_rules
from tests.server.conftest import add_user
from tests.server_process import cli, start_server

EVIL = {"Host": "evil.example"}


def signed_in_client(app: Starlette, base_url: str) -> TestClient:
    client = TestClient(app, base_url=base_url)
    password = add_user(app, "erin", "expert")
    response = client.post("/api/login", json={"username": "erin", "password": password})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture
def checked_app(tmp_path: Path) -> Iterator[Starlette]:
    """The app as ``serve`` makes it on 127.0.0.1: with the Host check."""
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", allowed_hosts=()))
    yield app
    app.state.services.db.close()


def test_a_request_for_another_host_is_refused_and_makes_no_link_to_it(checked_app: Starlette) -> None:
    with signed_in_client(checked_app, "http://127.0.0.1:8080") as client:
        case = client.post("/api/cases", json={"title": "Pump"}).json()
        refused = client.post(f"/api/cases/{case['id']}/sessions", headers=EVIL)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["code"] == "unknown_host"
        assert "'evil.example'" in error["message"] and "--allowed-hosts" in error["message"]
        made = client.post(f"/api/cases/{case['id']}/sessions").json()
        assert made["customer_url"].startswith("http://127.0.0.1:8080/join/")
        for host in ("localhost:8080", "127.0.0.1", "[::1]:8080", "127.0.0.9"):
            assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
        assert client.get("/healthz", headers={"Host": "127.0.0.1.evil.example"}).status_code == 400
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400  # the pages too


def test_a_websocket_for_another_host_is_refused(checked_app: Starlette) -> None:
    with TestClient(checked_app, base_url="http://127.0.0.1:8080") as client:
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws", headers=EVIL):
            pass


def test_links_use_the_public_url_whatever_host_the_request_names(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, secret_key="test", public_url="https://help.example.org", allowed_hosts=()
    )
    app = create_app(settings)
    with signed_in_client(app, "http://127.0.0.1:8080") as client:
        case = client.post("/api/cases", json={"title": "Pump"}).json()
        for host in ("127.0.0.1:8080", "help.example.org"):
            made = client.post(f"/api/cases/{case['id']}/sessions", headers={"Host": host}).json()
            assert made["customer_url"].startswith("https://help.example.org/join/"), host
        assert client.get("/healthz", headers=EVIL).status_code == 400
    app.state.services.db.close()


def test_api_answers_are_never_sniffed_and_hsts_only_under_tls(
    tmp_path: Path, checked_app: Starlette
) -> None:
    with TestClient(checked_app, base_url="http://127.0.0.1:8080") as client:
        for path in ("/api/me", "/healthz", "/api/no-such-route"):
            response = client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert "strict-transport-security" not in response.headers, path
    https_app = create_app(
        Settings(data_dir=tmp_path / "tls", secret_key="test", public_url="https://help.example.org")
    )
    with TestClient(https_app, base_url="https://help.example.org") as client:
        response = client.get("/api/me")
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert response.headers["x-content-type-options"] == "nosniff"
    https_app.state.services.db.close()


# --- the rules -------------------------------------------------------------------------------------


def own_non_loopback_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


def test_listening_everywhere_allows_this_machines_addresses_only(tmp_path: Path) -> None:
    rules = host_rules(Settings(data_dir=tmp_path, host="0.0.0.0", allowed_hosts=("*.help.example.org",)))
    assert rules.allows("127.0.0.1") and rules.allows("localhost") and rules.allows(socket.gethostname())
    assert rules.allows("phones.help.example.org") and not rules.allows("help.example.org.evil")
    assert not rules.allows("192.0.2.1")  # a documentation address: on no machine
    assert not rules.allows("evil.example")
    own = own_non_loopback_address()
    if own is not None:
        assert rules.allows(own)
        assert not host_rules(Settings(data_dir=tmp_path, allowed_hosts=())).allows(own)


def test_host_patterns() -> None:
    assert check_host_pattern(" Help.Example.org ") == "help.example.org"
    assert check_host_pattern("*.example.org") == "*.example.org"
    assert HostRules(frozenset({"*"})).allows("anything.example")
    for bad in ("*example.org", "help.*.org", "**", ""):
        with pytest.raises(ValueError, match="not a host pattern"):
            check_host_pattern(bad)


def test_a_bad_allowed_host_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), "--allowed-hosts", "help.*.org"]) != 0
    assert "not a host pattern" in capsys.readouterr().err


@pytest.mark.slow
def test_the_served_app_refuses_other_hosts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir, extra_args=("--allowed-hosts", "help.example.org"))
    try:
        headers = {"Authorization": f"Bearer {api_token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as api:
            case = api.post("/api/cases", json={"title": "Pump"}).json()
            refused = api.post(f"/api/cases/{case['id']}/sessions", headers=EVIL)
            assert refused.status_code == 400 and refused.json()["error"]["code"] == "unknown_host"
            made = api.post(f"/api/cases/{case['id']}/sessions").json()
            assert made["customer_url"].startswith(server.base_url + "/join/")
            named = api.get("/healthz", headers={"Host": "help.example.org"})
            assert named.status_code == 200
    finally:
        server.stop()
    assert "refused a request for host 'evil.example'" in server.log()


def test_allowed_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPAIRSIGHT_ALLOWED_HOSTS", "Help.Example.org, *.branch.example.org")
    assert ServeOptions().allowed_hosts == ("help.example.org", "*.branch.example.org")
