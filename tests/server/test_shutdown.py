"""Stopping the server tells the pages their session ended (issue 15, finding 11).

uvicorn closes every WebSocket it holds with 1012 ("service restart") when it stops, which a page
takes as "reconnect now": it would retry against a server going away. A SIGTERM first drains (no
new session; for the live ones nothing changes until they end or the drain timeout passes, then
they are ended with both pages told), and a second one stops at once, but still ends the live
sessions first, so the pages get ``session_ended`` and the close code 4002, never 1012.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import websockets

from signaling.messages import PROTOCOL_VERSION
from signaling.state import CLOSE_SESSION_ENDED
from tests.server_process import ServerProcess, cli, start_server
from tests.ws_participants import link_token, new_session, ws_url

pytestmark = pytest.mark.slow


async def joined(base_url: str, join: dict[str, Any], headers: dict[str, str]) -> Any:
    socket = await websockets.connect(ws_url(base_url), additional_headers=headers)
    await socket.send(json.dumps({**join, "version": PROTOCOL_VERSION}))
    async with asyncio.timeout(10):
        while json.loads(await socket.recv())["type"] != "joined":
            pass
    return socket


async def both_sides(server: ServerProcess, api_token: str) -> tuple[Any, Any]:
    session = new_session(server.base_url, api_token)
    expert = await joined(
        server.base_url,
        {"type": "join", "role": "expert", "session_id": session["id"]},
        {"Authorization": f"Bearer {api_token}"},
    )
    customer = await joined(
        server.base_url,
        {"type": "join", "role": "customer", "token": link_token(session), "consent": False},
        {},
    )
    return expert, customer


async def last_words(socket: Any, timeout_s: float) -> tuple[list[str], int | None]:
    """The types of the messages a page gets until its socket closes, and the close code."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for raw in socket:
                seen.append(json.loads(raw)["type"])
    except websockets.ConnectionClosed:
        pass
    return seen, socket.close_code


async def still_answers(socket: Any) -> bool:
    await socket.send(json.dumps({"type": "ping"}))
    async with asyncio.timeout(5):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "pong":
                return True
            assert message["type"] != "session_ended", message


def test_a_second_sigterm_ends_the_sessions_before_the_sockets_close(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir, extra_args=("--drain-timeout", "60"))

    async def stopped() -> list[tuple[list[str], int | None]]:
        expert, customer = await both_sides(server, api_token)
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        # Draining: for the live call nothing changes.
        assert await still_answers(expert) and await still_answers(customer)
        server.process.send_signal(signal.SIGTERM)
        return list(await asyncio.gather(last_words(expert, 20), last_words(customer, 20)))

    try:
        told = asyncio.run(stopped())
        server.process.wait(timeout=30)  # it stops (uvicorn exits by the signal it got)
    finally:
        server.stop()
    for seen, code in told:
        assert "session_ended" in seen and code == CLOSE_SESSION_ENDED, (seen, code, server.log())
    assert "the server is shutting down" in server.log()


def test_a_drained_session_ends_with_the_pages_told(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir, extra_args=("--drain-timeout", "2"))

    async def drained() -> list[tuple[list[str], int | None]]:
        expert, customer = await both_sides(server, api_token)
        server.process.send_signal(signal.SIGTERM)
        return list(await asyncio.gather(last_words(expert, 20), last_words(customer, 20)))

    try:
        told = asyncio.run(drained())
        server.process.wait(timeout=30)  # it stops (uvicorn exits by the signal it got)
    finally:
        server.stop()
    for seen, code in told:
        assert "session_ended" in seen and code == CLOSE_SESSION_ENDED, (seen, code)
