"""A ``/ws`` that lands on a process which does not hold its session is bridged, frame for frame, to
the process that does (LiveKit's signal relay): the page never knows. The session's WebRTC peers live
on the owner, so the browser's media goes straight to the owner's ICE candidates; only signaling
takes the extra hop.

The owner sees the bridged socket as the page's own: it gets the page's cookie, Authorization and
User-Agent (the expert is checked there, as on any join), and the internal header, so it does not
bridge again. Closes pass through both ways: a page that drops without a clean close reaches the
owner as 4000 (reconnecting), and an owner that vanishes reaches the page as 1011, so it rejoins.
"""

from __future__ import annotations

import asyncio
import logging

import websockets
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection

from signaling import Join, ProtocolError

from .. import metrics
from ..blocking import run_blocking
from ..cluster import ClusterError, NodeInfo
from ..cluster.internal import INTERNAL_HEADER, internal_ssl, is_internal
from ..records.links import check_link
from .state import Services, services

logger = logging.getLogger(__name__)

PASSED_HEADERS = ("cookie", "authorization", "user-agent")
MAX_FRAME_BYTES = 1024 * 1024  # as the public socket's limit (``serve``); the owner checks 64 KiB
CONNECT_TIMEOUT_S = 5.0
CLEAN_CLOSES = (1000, 1001)
CLOSE_RECONNECTING = 4000
CLOSE_OWNER_LOST = 1011


async def bridged(websocket: WebSocket, raw: str | bytes, join: Join) -> bool:
    """Serve this socket by bridging it to its session's owner; False when the session lives here
    (or the join is bad: the local join says what is wrong). Returns once the socket has closed."""
    found = services(websocket)
    cluster = found.live.cluster
    if not cluster.settings.clustered or is_internal(
        websocket.headers.get(INTERNAL_HEADER), found.internal_secret
    ):
        return False
    session_id = await _session_of(found, join)
    if session_id is None:
        return False
    try:
        placement = await cluster.place(session_id)
    except ClusterError as exc:
        raise ProtocolError(exc.code, exc.message) from None
    if placement.here:
        return False
    await _bridge(websocket, raw, placement.node, found.internal_secret, session_id)
    return True


async def _session_of(found: Services, join: Join) -> str | None:
    if join.role != "customer":
        return join.session_id
    if not join.token:
        return None
    check = await run_blocking(check_link, found.db, join.token)
    return check.session_id if check.problem is None else None


async def _bridge(
    websocket: WebSocket, raw: str | bytes, node: NodeInfo, secret: str, session_id: str
) -> None:
    headers = {INTERNAL_HEADER: secret}
    for name in PASSED_HEADERS:
        if name in websocket.headers:
            headers[name] = websocket.headers[name]
    secure = node.internal_url.startswith("https:")
    url = ("wss:" if secure else "ws:") + node.internal_url.split(":", 1)[1] + "/ws"
    try:
        upstream = await websockets.connect(
            url,
            additional_headers=headers,
            max_size=MAX_FRAME_BYTES,
            open_timeout=CONNECT_TIMEOUT_S,
            ssl=internal_ssl() if secure else None,
        )
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        logger.warning("session %s: cannot reach its server %s (%s)", session_id, node.node_id, exc)
        raise ProtocolError(
            "session_unavailable", "the server holding this session cannot be reached; try again"
        ) from None
    logger.info("session %s: /ws bridged to %s", session_id, node.node_id)
    async with upstream:
        await upstream.send(raw)
        to_owner = asyncio.ensure_future(_page_to_owner(websocket, upstream))
        to_page = asyncio.ensure_future(_owner_to_page(upstream, websocket))
        await asyncio.wait({to_owner, to_page}, return_when=asyncio.FIRST_COMPLETED)
        for task in (to_owner, to_page):
            task.cancel()
        await asyncio.gather(to_owner, to_page, return_exceptions=True)


async def _page_to_owner(websocket: WebSocket, upstream: ClientConnection) -> None:
    code: int | None = None
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                code = frame.get("code")
                break
            data = frame.get("text")
            await upstream.send(data if data is not None else frame.get("bytes") or b"")
    except WebSocketDisconnect as exc:
        code = exc.code
    except websockets.ConnectionClosed:
        return
    if code in CLEAN_CLOSES:
        await upstream.close(code, "the page closed")
    else:
        await upstream.close(CLOSE_RECONNECTING, "the page's connection dropped")


async def _owner_to_page(upstream: ClientConnection, websocket: WebSocket) -> None:
    try:
        async for message in upstream:
            if isinstance(message, str):
                await websocket.send_text(message)
            else:
                await websocket.send_bytes(message)
    except websockets.ConnectionClosed:
        pass
    except (RuntimeError, OSError, WebSocketDisconnect):
        return  # the page went: the other direction closes the owner's side
    code, reason = upstream.close_code, upstream.close_reason or ""
    if code is None or code in (1005, 1006):  # no close frame: the owner's process went away
        code, reason = CLOSE_OWNER_LOST, "the server holding the session stopped"
        metrics.websocket_closed(code)  # (a code the owner sent, the owner counted)
    try:
        await websocket.close(code, reason)
    except (RuntimeError, OSError):
        pass
