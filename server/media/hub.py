r"""One session's media: the customer's and the expert's peer connections, and what flows between them.

```
customer pc --video packets--> pump --> expert pc (forwarded as received, VP8)
            \                      \--> recorder ("video")
             \                      (decoded once in the receiver thread -> latest_frame, for vision)
             --audio packets--> pump --> expert pc, recorder ("customer_audio")
expert pc ----audio packets--> pump --> customer pc, recorder ("expert_audio")
```

One pump task per remote track always drains it (aiortc's track queue has no bound) and
fans each packet out to bounded queues. A keyframe request from the expert, or a drop on
the way to the expert, goes to the phone as a PLI. Each role has at most one peer
connection; a newer one replaces it (aiortc cannot restart ICE, so reconnecting means a new
peer connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from ..config import IceServerConfig
from .forwarding import KeyframeRequester, LatestFrame, PacketTrack, forward_track, redirect_keyframe_requests
from .peers import add_remote_candidate, new_peer_connection, prefer_vp8, with_start_bitrate
from .recorder import Recorder, TrackName

logger = logging.getLogger(__name__)

Role = str  # "customer" | "expert"
MAX_EARLY_CANDIDATES = 64


@dataclass
class Leg:
    """One participant's current peer connection."""

    role: Role
    connection_id: str
    pc: RTCPeerConnection
    outgoing: dict[str, PacketTrack] = field(default_factory=dict)
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    answered: bool = False
    early_candidates: list[tuple[str, str | None, int | None]] = field(default_factory=list)


class SessionMedia:
    """Owns the peer connections of one session; ``recorder`` is set once the customer consents."""

    def __init__(
        self,
        session_id: str,
        ice_servers: tuple[IceServerConfig, ...],
        on_connection_state: Callable[[Role, str, str], None] | None = None,
        reencode_video: bool = False,
    ) -> None:
        self.session_id = session_id
        self.ice_servers = ice_servers
        self.latest_frame = LatestFrame()
        self.recorder: Recorder | None = None
        self.legs: dict[Role, Leg | None] = {"customer": None, "expert": None}
        self._on_connection_state = on_connection_state
        self._keyframes: KeyframeRequester | None = None
        self.packets_forwarded = 0
        # The benchmark's baseline: aiortc decodes the customer's video and encodes it again.
        self.reencode_video = reencode_video

    # --- signaling -----------------------------------------------------------------------

    async def accept_offer(self, role: Role, connection_id: str, sdp: str) -> str:
        """Answer a participant's offer with a new peer connection (replacing its old one)."""
        await self.close_leg(role)
        pc = new_peer_connection(self.ice_servers)
        leg = Leg(role, connection_id, pc)
        self.legs[role] = leg

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if not (self.reencode_video and track.kind == "video"):
                forward_track(track, self.latest_frame if role == "customer" and track.kind == "video" else None)
            leg.pumps.append(asyncio.ensure_future(self._pump(leg, track)))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if self._on_connection_state is not None and self.legs.get(role) is leg:
                self._on_connection_state(role, connection_id, pc.connectionState)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            await self.close_leg(role)
            raise ValueError(f"the offer could not be used: {exc}") from exc
        for transceiver in pc.getTransceivers():
            prefer_vp8(transceiver)
            leg.receivers[transceiver.kind] = transceiver.receiver
            if transceiver.kind == "audio":
                leg.outgoing["audio"] = PacketTrack("audio")
                pc.addTrack(leg.outgoing["audio"])
            elif transceiver.kind == "video" and role == "expert":
                video = PacketTrack("video", on_drop=self.request_keyframe)
                leg.outgoing["video"] = video
                sender = pc.addTrack(video)
                redirect_keyframe_requests(sender, self.request_keyframe)
        if role == "customer" and "video" in leg.receivers:
            self._keyframes = KeyframeRequester(leg.receivers["video"])
        await pc.setLocalDescription(await pc.createAnswer())
        leg.answered = True
        for candidate in leg.early_candidates:
            await add_remote_candidate(pc, *candidate)
        leg.early_candidates.clear()
        if role == "expert":
            self.request_keyframe()  # a late joiner needs a keyframe to start decoding
        answer = pc.localDescription.sdp
        return with_start_bitrate(answer) if role == "customer" else answer

    async def add_candidate(self, role: Role, candidate: str, sdp_mid: str | None, index: int | None) -> None:
        leg = self.legs[role]
        if leg is None:
            return
        if not leg.answered:
            if len(leg.early_candidates) < MAX_EARLY_CANDIDATES:
                leg.early_candidates.append((candidate, sdp_mid, index))
            return
        await add_remote_candidate(leg.pc, candidate, sdp_mid, index)

    # --- media ---------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the phone for a keyframe (the expert joined or lost data, or recording starts)."""
        if self._keyframes is not None:
            self._keyframes.request()

    def decode_for_vision(self, enabled: bool) -> None:
        """Start (at the next keyframe, asked for now) or stop decoding pictures into ``latest_frame``."""
        if enabled and not self.latest_frame.wanted.is_set():
            self.latest_frame.wanted.set()
            self.request_keyframe()
        elif not enabled:
            self.latest_frame.wanted.clear()

    def start_recording(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.request_keyframe()

    async def _pump(self, leg: Leg, track: MediaStreamTrack) -> None:
        """Always drain the remote track, fanning each packet out without waiting."""
        kind = track.kind
        while True:
            try:
                packet = await track.recv()
            except MediaStreamError:
                return
            if isinstance(packet, av.VideoFrame) and self.reencode_video:
                self.latest_frame.put(packet, int(packet.time * 1000) if packet.time is not None else 0)
            elif not isinstance(packet, av.Packet):
                continue
            self._fan_out(leg.role, kind, packet)

    def _fan_out(self, role: Role, kind: str, packet: av.Packet | av.VideoFrame) -> None:
        track_name: TrackName
        if role == "customer":
            track_name = "video" if kind == "video" else "customer_audio"
            target = self.legs["expert"]
        else:
            if kind != "audio":
                return
            track_name = "expert_audio"
            target = self.legs["customer"]
        if self.recorder is not None and isinstance(packet, av.Packet):
            self.recorder.write(track_name, packet)
        if target is not None and kind in target.outgoing:
            target.outgoing[kind].push(packet)
            self.packets_forwarded += 1

    # --- teardown ------------------------------------------------------------------------

    async def close_leg(self, role: Role, connection_id: str | None = None) -> None:
        """Close a participant's peer connection (only if it is still ``connection_id``'s)."""
        leg = self.legs[role]
        if leg is None or (connection_id is not None and leg.connection_id != connection_id):
            return
        self.legs[role] = None
        if role == "customer":
            self._keyframes = None
        for track in leg.outgoing.values():
            track.stop()
        await leg.pc.close()
        for pump in leg.pumps:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def close(self) -> None:
        for role in ("customer", "expert"):
            await self.close_leg(role)
