"""The server itself as a session's customer: a demo with no phone at hand (``docs/demo.md``).

A :class:`DemoCustomer` joins its session through the same calls the ``/ws`` endpoint makes for a
phone (``LiveRegistry.open_for``, ``LiveSession.join``, an ``offer``), with the session's own link
token, as role ``customer``, consenting to the recording as a demo. Its media is an aiortc
RTCPeerConnection in this process sending :class:`~.tracks.DemoCameraTrack` (VP8, by aiortc's own
sender) and silence, to the session's server-side peer like any phone's. So everything after the
join is the session's ordinary code: forwarding, vision, the recording, the event log.

It is the session's socket too (``id``, ``send``, ``close``: the
:class:`~server.live.session.Connection` protocol): what the session sends a customer comes here,
and the demo acts on the few messages that concern it (its answer, the expert's presence, the end).

What a demo may cost is bounded: one per expert and :data:`MAX_DEMOS` per process at a time
(:class:`DemoCustomers`), and it ends its session once no expert has been in it for the session's
reconnect grace (after the expert left) or its idle timeout (an expert who never came).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack

from signaling import Answer, ClientInfo, Error, Join, Offer, Presence, ServerMessage, SessionEnded

from ...errors import Conflict
from ...records.tokens import new_id
from ..browsers import DEMO_USER_AGENT
from ..media.peers import prefer_vp8
from .clip import DemoClip
from .tracks import DemoCameraTrack

if TYPE_CHECKING:
    from ..registry import LiveRegistry
    from ..session import LiveSession

logger = logging.getLogger(__name__)

# Demos one server process runs at once: each renders and encodes 640x480 at 30 fps (about a tenth
# of a core) and holds a live session.
MAX_DEMOS = 4
CLEAN_LEAVE = 1000  # the demo leaves as a page that was closed does


class DemoCustomer:
    """The server playing a sample clip as one session's customer."""

    def __init__(
        self,
        registry: LiveRegistry,
        session_id: str,
        link_token: str,
        clip: DemoClip,
        on_gone: Callable[[DemoCustomer], None] = lambda _demo: None,
    ) -> None:
        self.id = new_id()  # as a socket's: the session knows its participants by connection id
        self.session_id = session_id
        self.registry = registry
        self.live: LiveSession | None = None
        self.camera = DemoCameraTrack(clip)
        self._link_token = link_token
        self._on_gone = on_gone
        # Explicit and empty: aiortc's default is a public STUN host; the session's peer is in this
        # process, so host candidates always reach it.
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._heard = MediaBlackhole()  # the expert's voice reaches the demo and is dropped
        self._answer: str | None = None
        self._expert_timer: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        self.stopped = False

    async def start(self) -> None:
        """Join the session and send the offer; returns once the session answered. Raises what a
        phone's join would be told (``ProtocolError``) when the session cannot take it."""
        join = Join(
            role="customer",
            token=self._link_token,
            consent=True,
            client=ClientInfo(user_agent=DEMO_USER_AGENT),
        )
        live = await self.registry.open_for(join, None)
        self.live = live
        await live.join(self, join, None)
        pc = self._pc
        pc.addTrack(AudioStreamTrack())  # silence, as a muted phone's microphone
        pc.addTrack(self.camera)
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                prefer_vp8(transceiver)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._heard.addTrack(track)
            asyncio.ensure_future(self._heard.start())

        await pc.setLocalDescription(await pc.createOffer())
        await live.handle(self, Offer(sdp=pc.localDescription.sdp))
        if self._answer is None:
            raise RuntimeError(f"session {self.session_id} did not answer the demo customer's offer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=self._answer, type="answer"))
        if live.machine.presence["expert"] != "joined":
            self._expert_away(self.registry.settings.idle_end_s)
        logger.info("session %s: the demo customer joined", self.session_id)

    # --- the session's socket --------------------------------------------------------------

    async def send(self, message: ServerMessage) -> None:
        """What the session sends the customer; never waits, never raises (as a socket's send)."""
        if isinstance(message, Answer):
            self._answer = message.sdp
        elif isinstance(message, Presence) and message.role == "expert":
            if message.status == "joined":
                self._expert_back()
            elif message.status == "left":
                self._expert_away(self.registry.settings.reconnect_grace_s)
        elif isinstance(message, SessionEnded):
            self._stop_soon()
        elif isinstance(message, Error):
            logger.warning("session %s told the demo customer: %s", self.session_id, message.message)

    async def close(self, code: int, reason: str) -> None:
        """The session closed this "socket" (it ended): the demo stops."""
        self._stop_soon()

    # --- the end -----------------------------------------------------------------------------

    def _expert_away(self, wait_s: float) -> None:
        self._expert_back()
        self._expert_timer = asyncio.get_running_loop().call_later(
            wait_s, lambda: asyncio.ensure_future(self._end_if_no_expert())
        )

    def _expert_back(self) -> None:
        if self._expert_timer is not None:
            self._expert_timer.cancel()
            self._expert_timer = None

    async def _end_if_no_expert(self) -> None:
        live = self.live
        if live is None or self.stopped or live.machine.presence["expert"] == "joined":
            return
        logger.info("session %s: no expert in the demo any more; it ends", self.session_id)
        await live.end("the demo ended: no expert was in it")

    def _stop_soon(self) -> None:
        # A task: ``close`` and ``send`` are called under the session's lock and must not wait.
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._leave())

    async def stop(self) -> None:
        """Leave the session (as a closed page) and close the peer connection; returns once done,
        however often it is called."""
        self._stop_soon()
        assert self._stopping is not None
        await asyncio.shield(self._stopping)

    async def _leave(self) -> None:
        self.stopped = True
        self._expert_back()
        try:
            if self.live is not None:
                await self.live.disconnected(self, CLEAN_LEAVE)
        finally:
            self.camera.stop()
            await self._heard.stop()
            await self._pc.close()
            self._on_gone(self)
            logger.info("session %s: the demo customer left", self.session_id)


class DemoCustomers:
    """The demos this process runs, by the expert who started each: at most one each, and
    ``max_running`` in all."""

    def __init__(self, max_running: int = MAX_DEMOS) -> None:
        self.max_running = max_running
        # An expert's entry is None while their demo is being set up (the slot is held from the
        # request's first check, so two clicks at once make one demo).
        self._by_expert: dict[str, DemoCustomer | None] = {}

    def reserve(self, user_id: str) -> None:
        """Hold ``user_id``'s demo slot, or say why they cannot start one now."""
        if user_id in self._by_expert:
            running = self._by_expert[user_id]
            where = f" (session {running.session_id}: /console/{running.session_id})" if running else ""
            raise Conflict(
                f"you already have a demo running{where}; end it on its console before starting another one"
            )
        if len(self._by_expert) >= self.max_running:
            raise Conflict(
                f"this server already runs {self.max_running} demos, its limit; try again when one has ended"
            )
        self._by_expert[user_id] = None

    def release(self, user_id: str) -> None:
        """Give up a slot held by :meth:`reserve` whose demo never started."""
        if self._by_expert.get(user_id, "running") is None:
            del self._by_expert[user_id]

    async def start(
        self, user_id: str, registry: LiveRegistry, session_id: str, link_token: str, clip: DemoClip
    ) -> DemoCustomer:
        """Start the demo in the slot ``user_id`` holds; the slot is free again once it stops."""
        demo = DemoCustomer(registry, session_id, link_token, clip, on_gone=lambda d: self._gone(user_id, d))
        self._by_expert[user_id] = demo
        try:
            await demo.start()
        except BaseException:
            await demo.stop()
            raise
        return demo

    def running(self) -> list[DemoCustomer]:
        return [demo for demo in self._by_expert.values() if demo is not None]

    def _gone(self, user_id: str, demo: DemoCustomer) -> None:
        if self._by_expert.get(user_id) is demo:
            del self._by_expert[user_id]

    async def close(self) -> None:
        """On shutdown: every demo leaves (its session is ended by the registry)."""
        for demo in self.running():
            await demo.stop()
