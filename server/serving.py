"""Running the app under uvicorn: a public and an internal listening socket per process, and SIGTERM
that drains instead of cutting calls.

The public socket may be shared by several processes of one machine (``SO_REUSEPORT``: the kernel
spreads new connections over them, ``serve --workers N``); the internal one is this process's own,
so the others can reach it (bridged ``/ws``, forwarded calls). The first SIGTERM (or Ctrl+C) drains:
no new session comes here, live ones go on until they end or the drain timeout passes, then the
server stops as before (sessions ended cleanly, recordings finalised). A second signal stops at once,
ending the live sessions first so their pages are told; a third (Ctrl+C) does not wait for that.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn

logger = logging.getLogger(__name__)

# How long the close frames of the sessions ended at shutdown get to go out (a page on a network
# too slow for that gets uvicorn's 1012 and tries again, to find the session ended).
CLOSE_FRAMES_S = 0.5


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port), ready to hand to uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose first stop signal runs ``drain`` before stopping, and which runs
    ``end_live`` before it closes the sockets it holds, however it stops (drained, a second
    signal). uvicorn closes a WebSocket with 1012 ("service restart"), which a page takes as
    "reconnect" and so retries against a server going away (issue 15, finding 11); a page whose
    session was ended first has been told so (``session_ended``, closed with 4002) and stops."""

    def __init__(
        self,
        config: uvicorn.Config,
        drain: Callable[[], Awaitable[None]],
        end_live: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(config)
        self._drain = drain
        self._end_live = end_live
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining is None and self._loop is not None and not self.should_exit:
            logger.warning(
                "signal %s: draining (no new sessions; live ones go on); a second one stops now", sig
            )
            self._captured_signals.append(sig)
            self._loop.call_soon_threadsafe(self._start_draining)
            return
        super().handle_exit(sig, frame)

    def _start_draining(self) -> None:
        self._draining = asyncio.ensure_future(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        try:
            await self._drain()
        except Exception:
            logger.exception("draining failed; stopping now")
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._end_live is not None and not self.force_exit:
            try:
                await self._end_live()
            except Exception:
                logger.exception("ending the live sessions before stopping failed")
            # The pages' close frames were queued; let them go out before uvicorn's own.
            await asyncio.sleep(CLOSE_FRAMES_S)
        await super().shutdown(sockets)
