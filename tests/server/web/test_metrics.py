"""``/metrics``: who may read it, and that it tells the truth about a live call."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.web.metrics_api import allowed_to_scrape
from tests.server.conftest import signed_in
from tests.server_process import cli, start_server
from tests.synthetic_peers import board_camera, wait_for
from tests.ws_participants import join_as_customer, join_as_expert, link_token, new_session


def value(text: str, name: str) -> float:
    """The value of one sample line (``name`` with its labels, as printed)."""
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{name} is not in the metrics"
    return float(match.group(1))


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.0.2", True),
        ("::1", True),
        ("10.0.0.5", False),
        ("testclient", False),
        (None, False),
    ],
)
def test_only_loopback_may_scrape_without_signing_in(address: str | None, allowed: bool) -> None:
    assert allowed_to_scrape(address) is allowed


def test_others_need_an_admin(app: Starlette, client: TestClient) -> None:
    refused = client.get("/metrics")
    assert refused.status_code == 403 and "signed-in admin" in refused.json()["error"]["message"]
    for expert in signed_in(app, client, "erin", "expert"):
        assert expert.get("/metrics").status_code == 403
    for admin in signed_in(app, client, "ada", "admin"):
        answer = admin.get("/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        assert "repairsight_live_sessions 0.0" in answer.text


async def a_live_call(base_url: str, api_token: str) -> str:
    session = new_session(base_url, api_token)
    found: dict[str, Any] = {}
    expert = await join_as_expert(base_url, session["id"], api_token, found_ar_state=found)
    await expert.socket.send(json.dumps({"type": "set_procedure", "procedure_id": "board-connector-reseat"}))
    customer = await join_as_customer(
        base_url, link_token(session), [f.bgr for f in board_camera(30).frames()]
    )
    try:
        await wait_for(lambda: bool(found), 30, "the board located")
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(base_url=base_url) as scraper:
            return (await scraper.get("/metrics")).text
    finally:
        await customer.close()
        await expert.close()


@pytest.mark.slow
def test_a_live_call_shows_in_the_metrics(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir)
    try:
        with httpx.Client(base_url=server.base_url) as anonymous:
            assert (
                anonymous.post("/api/login", json={"username": "nobody", "password": "x"}).status_code == 401
            )
            before = anonymous.get("/metrics").text  # the test talks to the server over loopback
        text = asyncio.run(a_live_call(server.base_url, api_token))
    finally:
        server.stop()
    assert value(before, "repairsight_live_sessions") == 0
    assert value(before, 'repairsight_sign_in_failures_total{kind="wrong_password"}') == 1
    assert value(text, "repairsight_live_sessions") == 1
    assert value(text, 'repairsight_participants{role="customer"}') == 1
    assert value(text, 'repairsight_participants{role="expert"}') == 1
    assert value(text, "repairsight_recordings_writing") == 1
    assert value(text, "repairsight_recording_bytes") > 0
    assert value(text, "repairsight_forwarded_packets_total") > 30
    assert value(text, "repairsight_forwarded_bytes_total") > value(
        text, "repairsight_forwarded_packets_total"
    )
    assert value(text, "repairsight_vision_frames_total") > 3
    assert value(text, "repairsight_ar_lag_seconds_count") == value(text, "repairsight_vision_frames_total")
