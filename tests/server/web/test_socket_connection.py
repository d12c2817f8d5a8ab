"""Each page's socket has a bounded queue and a writer of its own (issue 15, finding 1): sending
to a page that reads nothing never waits, and such a page is dropped with 4008."""

from __future__ import annotations

import asyncio
import json

from starlette.websockets import WebSocketState

from server.web.ws import SocketConnection
from signaling import ChatMessage, Pong
from signaling.state import CLOSE_REPLACED, CLOSE_TOO_SLOW


class FakeSocket:
    """What ``SocketConnection`` uses of a Starlette WebSocket. ``reads=False``: the page reads
    nothing, so a send never completes (its TCP window stays shut)."""

    def __init__(self, reads: bool) -> None:
        self.reads = reads
        self.application_state = WebSocketState.CONNECTED
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.incoming: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def send_text(self, text: str) -> None:
        if not self.reads:
            await asyncio.Event().wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code
        self.application_state = WebSocketState.DISCONNECTED

    async def receive(self) -> dict[str, object]:
        return await self.incoming.get()


async def test_a_page_that_reads_nothing_costs_the_sender_nothing_and_is_dropped() -> None:
    page = FakeSocket(reads=False)
    conn = SocketConnection(page, queue_messages=4)  # type: ignore[arg-type]
    async with asyncio.timeout(1):  # before, each send waited on the page
        for _ in range(10):
            await conn.send(Pong())
    assert conn.closed
    async with asyncio.timeout(1):
        assert await conn.receive() == {"type": "websocket.disconnect", "code": CLOSE_TOO_SLOW}
        await conn.finish()
    assert page.closed_with == CLOSE_TOO_SLOW


async def test_a_page_that_reads_gets_everything_in_order_and_the_close_last() -> None:
    page = FakeSocket(reads=True)
    conn = SocketConnection(page, queue_messages=4)  # type: ignore[arg-type]
    lines = [
        ChatMessage(id=str(n), from_role="expert", text=f"line {n}", sent_at="2026-01-01T00:00:00Z")
        for n in range(3)
    ]
    for line in lines:
        await conn.send(line)
    await conn.close(CLOSE_REPLACED, "replaced")
    await conn.send(Pong())  # after the close: not sent
    async with asyncio.timeout(1):
        await conn.finish()
    assert [json.loads(text)["text"] for text in page.sent] == ["line 0", "line 1", "line 2"]
    assert page.closed_with == CLOSE_REPLACED


async def test_a_frame_from_the_page_is_received_as_it_came() -> None:
    page = FakeSocket(reads=True)
    conn = SocketConnection(page)  # type: ignore[arg-type]
    await page.incoming.put({"type": "websocket.receive", "text": '{"type": "ping"}'})
    async with asyncio.timeout(1):
        assert await conn.receive() == {"type": "websocket.receive", "text": '{"type": "ping"}'}
        await conn.finish()
