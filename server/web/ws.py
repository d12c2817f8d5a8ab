"""The ``/ws`` signaling endpoint: a socket in, typed messages to its live session.

Every frame is size-checked and parsed by ``signaling.parse_client_message`` before use; a
bad one gets an ``error`` back and the session goes on. Over 64 KiB the socket is closed
with 1009 (RFC 6455 section 7.4.1), which ends neither the session nor its recording.
"""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from signaling import Join, MessageTooLarge, ProtocolError, ServerMessage, parse_client_message, serialize
from signaling.state import CLOSE_TOO_LARGE

from ..blocking import run_blocking
from ..live.registry import LiveRegistry
from ..live.session import LiveSession
from ..records.tokens import new_id
from .auth import EDITORS, require_role
from .errors import ApiError
from .state import services

logger = logging.getLogger(__name__)


class SocketConnection:
    """One participant's socket; sends never raise (a vanished peer is handled on receive)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.id = new_id()
        self.websocket = websocket
        self.closed = False

    async def send(self, message: ServerMessage) -> None:
        if self.closed or self.websocket.application_state != WebSocketState.CONNECTED:
            return
        try:
            await self.websocket.send_text(serialize(message))
        except (RuntimeError, OSError, WebSocketDisconnect):
            self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.websocket.close(code, reason)
        except (RuntimeError, OSError):
            pass


async def _join(registry: LiveRegistry, conn: SocketConnection, message: Join) -> LiveSession:
    username = None
    session_id = None
    if message.role == "expert":
        try:
            # The same rule as the REST routes that run sessions; it reads the database, so off the loop.
            principal = await run_blocking(require_role, conn.websocket, *EDITORS)
        except ApiError as exc:
            raise ProtocolError("unauthorized" if exc.status == 401 else "forbidden", exc.message) from None
        if not message.session_id:
            raise ProtocolError("invalid_message", "join: session_id is required for the expert")
        username, session_id = principal.username, message.session_id
    live = await registry.open_for(message, session_id)
    await live.join(conn, message, username)
    return live


async def signaling_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    registry = services(websocket).live
    conn = SocketConnection(websocket)
    live: LiveSession | None = None
    close_code: int | None = None
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                close_code = frame.get("code")
                break
            raw: str | bytes = frame.get("text") or frame.get("bytes") or b""
            try:
                message = parse_client_message(raw)
                if live is None:
                    if not isinstance(message, Join):
                        raise ProtocolError("not_joined", "send a 'join' message first")
                    live = await _join(registry, conn, message)
                else:
                    await live.handle(conn, message)
            except MessageTooLarge as exc:
                await conn.send(exc.to_message())
                await conn.close(CLOSE_TOO_LARGE, "message too large")
                close_code = CLOSE_TOO_LARGE
                break
            except ProtocolError as exc:
                await conn.send(exc.to_message())
            if conn.closed:
                break
    except WebSocketDisconnect as exc:
        close_code = exc.code
    except Exception:
        logger.exception("signaling failed for session %s", live.session_id if live else "?")
        close_code = 1011
        await conn.close(1011, "internal error")
    finally:
        conn.closed = True
        if live is not None:
            await live.disconnected(conn, close_code)
