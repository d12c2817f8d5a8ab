"""A recordings folder that cannot be written (issue 15, finding 7): a snapshot answers
``snapshot_failed`` and the call goes on (the expert's socket and video stay up); a session that
would start there is refused with ``storage_unavailable`` (no close 1011, so the page does not
retry forever); other sessions go on; ``/readyz`` and the log say so.

The folder is made truly unwritable: a read-only tmpfs mounted over it (``tests/read_only_mount.py``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets

from signaling.messages import PROTOCOL_VERSION
from tests.read_only_mount import read_only
from tests.server_process import cli, start_server
from tests.synthetic_peers import board_camera, wait_for
from tests.ws_participants import (
    Participant,
    join_as_customer,
    join_as_expert,
    link_token,
    new_session,
    ws_url,
)

pytestmark = pytest.mark.slow


async def answer_to(participant: Participant, message: dict[str, object], kind: str) -> dict[str, object]:
    await participant.socket.send(json.dumps(message))
    return await participant.next_of(kind, timeout_s=15)


def test_an_unwritable_recordings_folder_fails_clearly_and_the_call_goes_on(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir)
    recordings = data_dir / "recordings"

    async def scenario() -> dict[str, object]:
        seen: dict[str, object] = {}
        session = new_session(server.base_url, api_token)
        expert = await join_as_expert(server.base_url, session["id"], api_token)
        customer = await join_as_customer(
            server.base_url, link_token(session), [f.bgr for f in board_camera(30).frames()]
        )
        try:
            await wait_for(lambda: len(expert.peer.received.arrivals) > 10, 30, "the expert's video")
            with read_only(recordings):
                # A snapshot cannot be saved: a typed error, and the expert's socket and video stay up.
                seen["snapshot"] = await answer_to(expert, {"type": "snapshot"}, "error")
                assert (await answer_to(expert, {"type": "ping"}, "pong"))["type"] == "pong"
                arrived = len(expert.peer.received.arrivals)
                await wait_for(
                    lambda: len(expert.peer.received.arrivals) > arrived + 10, 10, "video after it"
                )

                # A new session cannot start here: its customer is told why, and not closed with 1011.
                second = new_session(server.base_url, api_token, "Second case")
                async with websockets.connect(ws_url(server.base_url)) as refused:
                    join = {"type": "join", "version": PROTOCOL_VERSION, "role": "customer", "consent": True}
                    await refused.send(json.dumps({**join, "token": link_token(second)}))
                    seen["join"] = json.loads(await asyncio.wait_for(refused.recv(), 15))
                    await refused.send(json.dumps({"type": "ping"}))
                    seen["after"] = json.loads(await asyncio.wait_for(refused.recv(), 5))
                    seen["close_code"] = refused.close_code

                async with httpx.AsyncClient(base_url=server.base_url) as client:
                    ready = await client.get("/readyz")
                seen["readyz"] = (ready.status_code, ready.json()["checks"]["recordings"])

                # The first call goes on: chat both ways.
                await expert.socket.send(json.dumps({"type": "chat", "text": "still with you"}))
                seen["chat"] = (await customer.next_of("chat"))["text"]
            return seen
        finally:
            await customer.close()
            await expert.close()

    try:
        seen = asyncio.run(scenario())
    finally:
        server.stop()
    snapshot = seen["snapshot"]
    assert isinstance(snapshot, dict) and snapshot["code"] == "snapshot_failed", snapshot
    assert "could not be saved" in str(snapshot["message"])
    join = seen["join"]
    assert isinstance(join, dict) and join["type"] == "error" and join["code"] == "storage_unavailable", join
    assert "administrator" in str(join["message"])
    assert seen["close_code"] is None  # the page closes it; the server did not drop it with 1011
    assert isinstance(seen["after"], dict) and seen["after"]["type"] == "error"  # not joined: told so
    status, check = seen["readyz"]  # type: ignore[misc]
    assert status == 503 and check["ok"] is False and "cannot be written" in check["message"]
    assert seen["chat"] == "still with you"
    log = server.log()
    assert "cannot start: its recordings folder" in log
    assert "Traceback" not in log, log
