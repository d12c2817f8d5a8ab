"""The ``/ws`` signaling endpoint: a socket in, typed messages to its live session.

A socket opened by a page of another origin is refused before it is accepted (HTTP 403,
``server/web/origin.py``). Every frame is size-checked and parsed by
``signaling.parse_client_message`` before use; a bad one gets an ``error`` back and the session
goes on. Over 64 KiB the socket is closed with 1009 (RFC 6455 section 7.4.1), which ends neither
the session nor its recording.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from signaling import Join, MessageTooLarge, ProtocolError, ServerMessage, parse_client_message, serialize
from signaling.messages import OutdatedPage, check_protocol_version
from signaling.state import CLOSE_FORBIDDEN, CLOSE_TOO_LARGE, CLOSE_TOO_SLOW

from .. import metrics
from ..blocking import run_blocking
from ..live.registry import LiveRegistry
from ..live.session import LiveSession
from ..records.sessions import is_demo_session
from ..records.tokens import new_id
from .auth import DEMO_RUNNERS, EDITORS, Principal, require_role
from .errors import ApiError
from .origin import is_same_origin
from .state import services
from .ws_bridge import bridged

logger = logging.getLogger(__name__)

# What may wait to go out to one page. Chat lines, presence and the expert's pointer (at most
# 15 a second, ``POINTER_RATE_HZ``) come in numbers: 256 is over 15 s of a stalled phone network.
OUTGOING_QUEUE_MESSAGES = 256
# How long a close (after what was queued before it) may take before the socket is dropped.
CLOSE_WAIT_S = 5.0


class SocketConnection:
    """One participant's socket, with a bounded queue of what is to be sent and a writer task of
    its own.

    ``send`` and ``close`` only queue, so they never wait and never raise: a page that reads
    slowly, or never (a script with a full receive buffer), holds up neither the session's lock
    nor the other participant. A page whose queue fills is dropped at once with
    :data:`~signaling.state.CLOSE_TOO_SLOW`, and :meth:`receive` then reports the socket gone,
    so the session sees it leave as it would any dropped page.
    """

    def __init__(self, websocket: WebSocket, queue_messages: int = OUTGOING_QUEUE_MESSAGES) -> None:
        self.id = new_id()
        self.websocket = websocket
        self.closed = False  # nothing more is queued
        self._outgoing: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue(queue_messages)
        self._writer = asyncio.create_task(self._write())
        self._dropped = asyncio.Event()
        self._close_deadline: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None

    async def send(self, message: ServerMessage) -> None:
        if self.closed:
            return
        try:
            self._outgoing.put_nowait(serialize(message))
        except asyncio.QueueFull:
            self._drop()

    async def close(self, code: int, reason: str) -> None:
        """Close after what is already queued; a page that has not taken it all within
        ``CLOSE_WAIT_S`` is dropped."""
        if self.closed:
            return
        self.closed = True
        try:
            self._outgoing.put_nowait((code, reason))
        except asyncio.QueueFull:
            self._drop()
            return
        self._close_deadline = asyncio.get_running_loop().call_later(CLOSE_WAIT_S, self._drop)

    async def receive(self) -> Message:
        """The next frame from the page; a disconnect with ``CLOSE_TOO_SLOW`` once it was dropped."""
        if not self._dropped.is_set():
            receiving = asyncio.ensure_future(self.websocket.receive())
            dropped = asyncio.ensure_future(self._dropped.wait())
            try:
                await asyncio.wait((receiving, dropped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                dropped.cancel()
                if not receiving.done():
                    receiving.cancel()
            if not receiving.cancelled():
                return receiving.result()
        return {"type": "websocket.disconnect", "code": CLOSE_TOO_SLOW}

    async def finish(self) -> None:
        """The endpoint is done with this socket: a close already queued may still go out, after
        what was queued before it (``CLOSE_WAIT_S`` at most); anything else is dropped."""
        self.closed = True
        if self._close_deadline is None:
            self._writer.cancel()
        # ``wait``, not ``gather``: only this task's own cancellation may leave here as one.
        await asyncio.wait([self._writer])
        if self._closing is not None:
            await asyncio.wait([self._closing])

    def _drop(self) -> None:
        if self._dropped.is_set() or self._writer.done():
            return
        logger.warning("a page did not read its messages in time; its socket is dropped (%d)", CLOSE_TOO_SLOW)
        self.closed = True
        self._dropped.set()
        self._writer.cancel()
        # The close frame may never get out either: it is tried in the background, for a while.
        self._closing = asyncio.ensure_future(self._close_socket(CLOSE_TOO_SLOW, "too slow"))

    async def _write(self) -> None:
        try:
            while True:
                item = await self._outgoing.get()
                if isinstance(item, tuple):
                    await self._close_socket(*item)
                    return
                if self.websocket.application_state != WebSocketState.CONNECTED:
                    return
                await self.websocket.send_text(item)
        except (RuntimeError, OSError, WebSocketDisconnect):
            self.closed = True  # the page went away; the endpoint hears it on receive
        finally:
            if self._close_deadline is not None:
                self._close_deadline.cancel()

    async def _close_socket(self, code: int, reason: str) -> None:
        metrics.websocket_closed(code)  # every close of an accepted socket comes here
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.websocket.close(code, reason)
        except (RuntimeError, OSError, TimeoutError):
            pass


def _require_session_runner(websocket: WebSocket, session_id: str | None) -> Principal:
    """Experts and admins run sessions; a trainer runs a demo's only."""
    if session_id and is_demo_session(services(websocket).db, session_id):
        return require_role(websocket, *DEMO_RUNNERS)
    return require_role(websocket, *EDITORS)


async def _join(registry: LiveRegistry, conn: SocketConnection, message: Join) -> LiveSession:
    username = None
    session_id = None
    if message.role == "expert":
        try:
            # The same rule as the REST routes that run sessions; it reads the database, so off the loop.
            principal = await run_blocking(_require_session_runner, conn.websocket, message.session_id)
        except ApiError as exc:
            raise ProtocolError("unauthorized" if exc.status == 401 else "forbidden", exc.message) from None
        if not message.session_id:
            raise ProtocolError("invalid_message", "join: session_id is required for the expert")
        username, session_id = principal.username, message.session_id
    live = await registry.open_for(message, session_id)
    await live.join(conn, message, username)
    return live


async def signaling_endpoint(websocket: WebSocket) -> None:
    if not is_same_origin(websocket):
        # Refused before it is accepted: the other origin's page sees the handshake fail (403).
        metrics.websocket_closed(CLOSE_FORBIDDEN)
        await websocket.close(CLOSE_FORBIDDEN, "the page is not of this site's origin")
        return
    await websocket.accept()
    registry = services(websocket).live
    conn = SocketConnection(websocket)
    live: LiveSession | None = None
    close_code: int | None = None
    try:
        while True:
            frame = await conn.receive()
            if frame["type"] == "websocket.disconnect":
                close_code = frame.get("code")
                break
            raw: str | bytes = frame.get("text") or frame.get("bytes") or b""
            try:
                message = parse_client_message(raw)
                if live is None:
                    if not isinstance(message, Join):
                        raise ProtocolError("not_joined", "send a 'join' message first")
                    check_protocol_version(message)
                    if await bridged(websocket, raw, message):  # its session lives on another process
                        return
                    live = await _join(registry, conn, message)
                else:
                    await live.handle(conn, message)
            except MessageTooLarge as exc:
                await conn.send(exc.to_message())
                await conn.close(CLOSE_TOO_LARGE, "message too large")
                close_code = CLOSE_TOO_LARGE
                break
            except OutdatedPage as exc:
                # Closed with a code every page, however old, takes as final: it stops retrying
                # and shows the reason; a current page shows the error first.
                await conn.send(exc.to_message())
                await conn.close(CLOSE_FORBIDDEN, exc.message)
                close_code = CLOSE_FORBIDDEN
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
        await conn.finish()
