"""Each participant gets TURN credentials of its own, short-lived, instead of the site's password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

from starlette.testclient import TestClient

from server.app import create_app
from server.config import IceServerConfig, Settings
from server.live.turn import TURN_TTL_S, ice_servers_for, turn_credential
from server.records.accounts import create_api_token, create_user
from signaling.messages import PROTOCOL_VERSION

SECRET = "the secret coturn holds as static-auth-secret"
TURN = IceServerConfig("turn:turn.example.org:3478")
STUN = IceServerConfig("stun:stun.example.org:3478")


def coturn_password(username: str, secret: str = SECRET) -> str:
    """What coturn computes for a username under use-auth-secret (HMAC-SHA1, base64)."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def test_a_credential_is_what_coturn_expects_and_expires() -> None:
    username, password = turn_credential(SECRET, "s_1:customer", now_s=1_800_000_000.7)
    assert username == f"{1_800_000_000 + TURN_TTL_S}:s_1:customer"
    assert password == coturn_password(username)
    assert password != coturn_password(username, "another secret")


def test_only_turn_servers_without_a_static_username_get_per_participant_credentials() -> None:
    static = IceServerConfig("turns:turn.example.org:5349", "site", "site-password")
    servers = (STUN, TURN, static)
    assert ice_servers_for(servers, None, "s_1:customer", 0) == servers  # no secret: as configured
    customer = ice_servers_for(servers, SECRET, "s_1:customer", time.time())
    expert = ice_servers_for(servers, SECRET, "s_1:expert", time.time())
    assert customer[0] == STUN and customer[2] == static
    assert customer[1].username is not None and customer[1].username.endswith(":s_1:customer")
    assert customer[1].credential == coturn_password(customer[1].username)
    assert expert[1].username != customer[1].username and expert[1].credential != customer[1].credential


def test_the_customer_page_gets_its_own_credentials_not_a_site_password(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test", ice_servers=(STUN, TURN), turn_secret=SECRET)
    app = create_app(settings)
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
        case = client.post("/api/cases", json={"title": "No signal"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        token = made["customer_url"].rsplit("/", 1)[1]
        with client.websocket_connect("/ws") as customer:
            customer.send_json(
                {
                    "type": "join",
                    "version": PROTOCOL_VERSION,
                    "role": "customer",
                    "token": token,
                    "consent": True,
                }
            )
            joined = customer.receive_json()
    assert joined["type"] == "joined", joined
    stun, turn = joined["ice_servers"]
    assert stun == {"urls": [STUN.url]}  # STUN takes no credentials
    expiry, session_id, role = turn["username"].split(":")
    assert (session_id, role) == (made["id"], "customer")
    assert 0 < int(expiry) - time.time() <= TURN_TTL_S
    assert turn["credential"] == coturn_password(turn["username"])
    assert SECRET not in str(joined)
