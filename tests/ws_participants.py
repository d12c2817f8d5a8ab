"""Synthetic participants that talk to a running server the way the pages do: over ``/ws``.

Used by the kill test and the media benchmark, against a real server process.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import websockets

from signaling.messages import PROTOCOL_VERSION
from tests.synthetic_peers import SyntheticPeer, start_customer, start_expert


@dataclass
class Participant:
    socket: Any
    peer: SyntheticPeer
    reader: asyncio.Task[None]
    inbox: asyncio.Queue[dict[str, Any]]

    async def close(self) -> None:
        self.reader.cancel()
        await self.peer.close()
        await self.socket.close()

    async def next_of(self, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self.inbox.get()
                if message["type"] == kind:
                    return message


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://").replace("https://", "wss://") + "/ws"


async def _open(base_url: str, join: dict[str, Any], headers: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    socket = await websockets.connect(ws_url(base_url), additional_headers=headers, max_size=2**20)
    await socket.send(json.dumps(join))
    while True:
        message = json.loads(await socket.recv())
        if message["type"] == "joined":
            return socket, message
        if message["type"] == "error":
            raise AssertionError(f"join refused: {message}")


async def _answerer(socket: Any, sdp: str) -> str:
    await socket.send(json.dumps({"type": "offer", "sdp": sdp}))
    while True:
        message = json.loads(await socket.recv())
        if message["type"] == "answer":
            return str(message["sdp"])
        if message["type"] == "error":
            raise AssertionError(f"offer refused: {message}")


async def _read_rest(socket: Any, inbox: asyncio.Queue[dict[str, Any]]) -> None:
    try:
        async for raw in socket:
            if inbox.full():
                inbox.get_nowait()
            inbox.put_nowait(json.loads(raw))
    except websockets.ConnectionClosed:
        return


async def join_as_customer(
    base_url: str, token: str, frames: list[np.ndarray], consent: bool = True, audio: bool = True
) -> Participant:
    socket, _ = await _open(
        base_url,
        {"type": "join", "version": PROTOCOL_VERSION, "role": "customer", "token": token, "consent": consent},
        {},
    )
    peer = await start_customer(frames, lambda sdp: _answerer(socket, sdp), audio)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(100)
    return Participant(socket, peer, asyncio.ensure_future(_read_rest(socket, inbox)), inbox)


async def join_as_expert(
    base_url: str,
    session_id: str,
    api_token: str,
    found_ar_state: dict[str, Any] | None = None,
    audio: bool = True,
) -> Participant:
    """A synthetic console. With ``found_ar_state``, it opens the ``ar`` data channel as the
    console does and keeps the newest AR state that located the device in that dict."""
    headers = {"Authorization": f"Bearer {api_token}"}
    socket, _ = await _open(
        base_url,
        {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": session_id},
        headers,
    )
    peer = await start_expert(lambda sdp: _answerer(socket, sdp), found_ar_state, audio)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(100)
    return Participant(socket, peer, asyncio.ensure_future(_read_rest(socket, inbox)), inbox)


def new_session(base_url: str, api_token: str, title: str = "Synthetic case") -> dict[str, Any]:
    """Create a case and a session on it over the REST API; returns the session JSON."""
    headers = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        case = client.post("/api/cases", json={"title": title})
        case.raise_for_status()
        session = client.post(f"/api/cases/{case.json()['id']}/sessions")
        session.raise_for_status()
        return dict(session.json())


def link_token(session: dict[str, Any]) -> str:
    return str(session["customer_url"]).rsplit("/", 1)[1]
