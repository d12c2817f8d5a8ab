"""A page that never reads what the server sends it holds up nobody (issue 15, finding 1).

Against the real server over TCP: a raw socket with a 4 KiB receive buffer joins as the
customer and floods the server with messages that each earn an ``error`` back, reading none of
them. Before each page had a queue of its own, the server's sends to it blocked, partly under
the session's lock: the expert's chat got no echo, ``POST .../end`` did not answer and a
customer re-joining got no ``pong``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import websockets

from signaling.messages import PROTOCOL_VERSION
from signaling.state import CLOSE_TOO_SLOW
from tests.server_process import cli, start_server
from tests.ws_participants import link_token, new_session, ws_url

# Each check must pass within this; a session held up by the flood never answers at all.
ANSWER_WITHIN_S = 5.0
FLOOD_FRAMES = 400_000  # far more than it takes to fill every buffer on the way


def masked_frame(text: str) -> bytes:
    """A client's text frame (RFC 6455 section 5.2: clients mask)."""
    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x81, 0x80 | size])
    else:
        head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", size)
    return head + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def read_text_frame(raw: socket.socket) -> str:
    """One unmasked text frame from the server (RFC 6455 section 5.2)."""

    def take(count: int) -> bytes:
        data = b""
        while len(data) < count:
            data += raw.recv(count - len(data))
        return data

    size = take(2)[1] & 0x7F
    if size == 126:
        size = struct.unpack(">H", take(2))[0]
    elif size == 127:
        size = struct.unpack(">Q", take(8))[0]
    return take(size).decode()


def flood_without_reading(base_url: str, token: str) -> tuple[socket.socket, str]:
    """Join as the customer on a socket that reads its ``joined`` (for the seat's resume secret) and
    nothing more, and send until the server stops reading it (or the frames run out); returns the
    socket, still open, and the secret."""
    parts = urlsplit(base_url)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += raw.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    raw.sendall(
        masked_frame(
            json.dumps({"type": "join", "version": PROTOCOL_VERSION, "role": "customer", "token": token})
        )
    )
    joined = json.loads(read_text_frame(raw))
    assert joined["type"] == "joined", joined
    # Each earns an ``unknown_type`` error of some 200 bytes, and none is read.
    junk = masked_frame('{"type": "x"}')
    raw.settimeout(3.0)
    try:
        for _ in range(FLOOD_FRAMES):
            raw.sendall(junk)
    except TimeoutError:
        pass  # the server stopped reading this socket
    return raw, joined["resume"]


async def next_of(socket_: Any, check: dict[str, Any]) -> dict[str, Any]:
    async with asyncio.timeout(ANSWER_WITHIN_S):
        while True:
            message = json.loads(await socket_.recv())
            if all(message.get(key) == value for key, value in check.items()):
                return dict(message)


async def scenario(base_url: str, api_token: str) -> None:
    session = new_session(base_url, api_token)
    token = link_token(session)
    auth = {"Authorization": f"Bearer {api_token}"}
    async with websockets.connect(ws_url(base_url), additional_headers=auth, max_size=2**20) as expert:
        await expert.send(
            json.dumps(
                {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": session["id"]}
            )
        )
        await next_of(expert, {"type": "joined"})
        attacker, resume = await asyncio.to_thread(flood_without_reading, base_url, token)
        try:
            # The flooding page was dropped (4008), so the expert sees the customer reconnecting.
            await next_of(expert, {"type": "presence", "role": "customer", "status": "reconnecting"})
            await expert.send(json.dumps({"type": "chat", "text": "Are you still there?"}))
            await next_of(expert, {"type": "chat", "text": "Are you still there?"})
            async with websockets.connect(ws_url(base_url)) as customer:
                # The customer's page comes back to its seat (its resume secret), as after a drop.
                await customer.send(
                    json.dumps(
                        {
                            "type": "join",
                            "version": PROTOCOL_VERSION,
                            "role": "customer",
                            "token": token,
                            "resume": resume,
                        }
                    )
                )
                await next_of(customer, {"type": "joined"})
                await customer.send(json.dumps({"type": "ping"}))
                await next_of(customer, {"type": "pong"})
                await customer.send(json.dumps({"type": "chat", "text": "Back again"}))
                await next_of(expert, {"type": "chat", "text": "Back again"})
                async with httpx.AsyncClient(base_url=base_url, headers=auth) as api:
                    ended = await api.post(f"/api/sessions/{session['id']}/end", timeout=ANSWER_WITHIN_S)
                assert ended.status_code == 200, ended.text
                await next_of(customer, {"type": "session_ended"})
        finally:
            attacker.close()


def test_a_page_that_never_reads_is_dropped_and_the_session_goes_on(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir)
    try:
        asyncio.run(scenario(server.base_url, api_token))
    finally:
        server.stop()
    assert f"its socket is dropped ({CLOSE_TOO_SLOW})" in server.log()
