r"""One session's media: the customer's and the expert's peer connections, and what flows between them.

```
customer pc --video packets--> fan out --> expert pc (forwarded as received, VP8)
            \                      \--> recorder ("video")
             \                      \--> frame sink (the session's media worker: decoded there for
              \                          vision and burn-in, never in this process)
             --audio packets--> fan out --> expert pc, recorder ("customer_audio")
expert pc ----audio packets--> fan out --> customer pc, recorder ("expert_audio")
media worker --burned-in packets--> expert pc (with burn-in on, instead of the phone's video)
```

Each received frame is fanned out on the event loop, as the receiver reassembles it, to
bounded queues (see ``forwarding.py``: no thread hop, no unbounded track queue). A keyframe
request from the expert, or a drop on the way to the expert, goes to the phone as a PLI.
Each role has at most one peer connection; a newer one replaces it (aiortc cannot restart
ICE, so reconnecting means a new peer connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
from aiortc import RTCDataChannel, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from ...config import IceServerConfig
from ...metrics import FORWARDED
from ...recordings.recorder import Recorder, TrackName
from .forwarding import (
    RTP_WRAP,
    ExpertVideoTrack,
    FrameSink,
    KeyframeRequester,
    Media,
    PacketTrack,
    forward_receiver,
    received_timestamp_origin,
    redirect_keyframe_requests,
    sent_timestamp_origin,
)
from .peers import add_remote_candidate, new_peer_connection, prefer_vp8, with_start_bitrate

logger = logging.getLogger(__name__)

Role = str  # "customer" | "expert"
MAX_EARLY_CANDIDATES = 64
# The customer's video stopping this long (a dropped network, a reload, a camera in the background)
# is a gap worth marking: a 30 fps stream never pauses this long on its own.
VIDEO_GAP_S = 1.0
VIDEO_TIME_BASE = Fraction(1, 90000)


@dataclass
class Leg:
    """One participant's current peer connection."""

    role: Role
    connection_id: str
    pc: RTCPeerConnection
    outgoing: dict[str, PacketTrack] = field(default_factory=dict)
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    video_sender: RTCRtpSender | None = None  # the expert's: the video forwarded to them
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
        reencode: bool = False,
        on_datachannel: Callable[[Role, RTCDataChannel], None] | None = None,
        on_video_gap: Callable[[float], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.ice_servers = ice_servers
        # The session's media worker, once it needs pictures; and how to ask it for a keyframe of
        # the burned-in video.
        self.frame_sink: FrameSink | None = None
        self.burn_in_keyframe: Callable[[], None] | None = None
        self.recorder: Recorder | None = None
        self.legs: dict[Role, Leg | None] = {"customer": None, "expert": None}
        self._on_connection_state = on_connection_state
        self._on_datachannel = on_datachannel
        self._on_video_gap = on_video_gap
        self.burn_in = False
        # When the customer's video last arrived (time.monotonic()), and its RTP timestamp.
        self.customer_video_at: float | None = None
        self.customer_video_rtp: int | None = None
        self._keyframes: KeyframeRequester | None = None
        self.packets_forwarded = 0
        # The benchmark's baseline, aiortc's plain relay: every received track is decoded and
        # encoded again for the other side (and, having no encoded packets, nothing is recorded).
        self.reencode = reencode

    # --- signaling -----------------------------------------------------------------------

    async def accept_offer(self, role: Role, connection_id: str, sdp: str) -> str:
        """Answer a participant's offer with a new peer connection (replacing its old one)."""
        await self.close_leg(role)
        pc = new_peer_connection(self.ice_servers)
        leg = Leg(role, connection_id, pc)
        self.legs[role] = leg

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            kind = track.kind
            if self.reencode:
                leg.pumps.append(asyncio.ensure_future(self._pump_decoded(leg, track)))
                return
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            frames = (lambda: self.frame_sink) if role == "customer" and kind == "video" else (lambda: None)
            forward_receiver(receiver, lambda packet: self._fan_out(role, kind, packet), frames)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if self._on_datachannel is not None:
                self._on_datachannel(role, channel)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if self._on_connection_state is not None and self.legs.get(role) is leg:
                self._on_connection_state(role, connection_id, pc.connectionState)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for transceiver in pc.getTransceivers():
                prefer_vp8(transceiver)
                leg.receivers[transceiver.kind] = transceiver.receiver
                if transceiver.kind == "audio":
                    leg.outgoing["audio"] = PacketTrack("audio")
                    pc.addTrack(leg.outgoing["audio"])
                elif transceiver.kind == "video" and role == "expert":
                    sender = pc.addTrack(self._expert_video_track(leg))
                    redirect_keyframe_requests(sender, self.request_expert_keyframe)
                    leg.video_sender = sender
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            # aiortc fails on a malformed offer in many ways (ValueError, AttributeError, ...): each
            # is this client's bad offer, never the session's failure.
            await self.close_leg(role)
            raise ValueError(f"the offer could not be used: {type(exc).__name__}: {exc}") from exc
        if role == "customer" and "video" in leg.receivers:
            self._keyframes = KeyframeRequester(leg.receivers["video"])
        leg.answered = True
        for candidate in leg.early_candidates:
            try:
                await add_remote_candidate(pc, *candidate)
            except Exception as exc:  # one unusable candidate: the call goes on with the others
                logger.info("session %s: an early %s ICE candidate failed: %r", self.session_id, role, exc)
        leg.early_candidates.clear()
        if role == "expert":
            self.request_expert_keyframe()  # a late joiner needs a keyframe to start decoding
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
        try:
            await add_remote_candidate(leg.pc, candidate, sdp_mid, index)
        except Exception as exc:  # aiortc asserts and raises on what it cannot parse
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc

    # --- media ---------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the phone for a keyframe (the expert joined or lost data, or recording starts)."""
        if self._keyframes is not None:
            self._keyframes.request()

    def request_expert_keyframe(self) -> None:
        """The expert's decoder needs a keyframe: from the phone, or from the burn-in encoder."""
        if self.burn_in and self.burn_in_keyframe is not None:
            self.burn_in_keyframe()
        else:
            self.request_keyframe()

    def _expert_video_track(self, leg: Leg) -> ExpertVideoTrack:
        video = ExpertVideoTrack(on_drop=self.request_expert_keyframe)
        video.set_burn_in(self.burn_in)
        leg.outgoing["video"] = video
        return video

    def set_burn_in(self, enabled: bool) -> None:
        """Switch the expert's video between the phone's (forwarded) and the burned-in packets; each
        starts again on a keyframe."""
        self.burn_in = enabled
        leg = self.legs["expert"]
        video = leg.outgoing.get("video") if leg is not None else None
        if isinstance(video, ExpertVideoTrack):
            video.set_burn_in(enabled)
        self.request_expert_keyframe()

    def customer_rtp_timestamp(self, rtp_timestamp: int) -> int | None:
        """The RTP timestamp the phone itself put on the frame with this (received, counted from the
        first) timestamp; None before the phone's video."""
        leg = self.legs["customer"]
        receiver = leg.receivers.get("video") if leg is not None else None
        origin = received_timestamp_origin(receiver) if receiver is not None else None
        return None if origin is None else (origin + rtp_timestamp) % RTP_WRAP

    def expert_stream_timestamp(self, rtp_timestamp: int) -> int | None:
        """The RTP timestamp the frame with this (received) timestamp has in the video the expert's
        page receives; None without an expert or before their video starts."""
        leg = self.legs["expert"]
        video = leg.outgoing.get("video") if leg is not None else None
        if not isinstance(video, ExpertVideoTrack) or leg is None or leg.video_sender is None:
            return None
        origin = sent_timestamp_origin(leg.video_sender)
        return None if origin is None else (origin + video.stream_timestamp(rtp_timestamp)) % RTP_WRAP

    def push_burned(self, data: bytes, rtp_timestamp: int, keyframe: bool) -> None:
        """A burned-in frame from the media worker, on its way to the expert."""
        leg = self.legs["expert"]
        video = leg.outgoing.get("video") if leg is not None else None
        if isinstance(video, ExpertVideoTrack):
            packet = av.Packet(data)
            packet.pts = packet.dts = rtp_timestamp
            packet.time_base = VIDEO_TIME_BASE
            packet.is_keyframe = keyframe
            video.push_burned(packet)

    def start_recording(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.request_keyframe()

    async def _pump_decoded(self, leg: Leg, track: MediaStreamTrack) -> None:
        """The baseline's path: always drain a decoded remote track, fanning frames out."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame | av.AudioFrame):
                self._fan_out(leg.role, track.kind, frame)

    def _fan_out(self, role: Role, kind: str, packet: Media) -> None:
        track_name: TrackName
        if role == "customer":
            track_name = "video" if kind == "video" else "customer_audio"
            if kind == "video":
                now = time.monotonic()
                if self.customer_video_at is not None and now - self.customer_video_at >= VIDEO_GAP_S:
                    if self._on_video_gap is not None:
                        self._on_video_gap(now - self.customer_video_at)
                self.customer_video_at = now
                self.customer_video_rtp = packet.pts
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
            if isinstance(packet, av.Packet):
                FORWARDED.add(packet.size)

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
        try:
            await leg.pc.close()
        except Exception:  # a peer connection left half-made by a malformed offer fails to close
            logger.info("session %s: %s peer connection did not close", self.session_id, role, exc_info=True)
        for pump in leg.pumps:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def close(self) -> None:
        for role in ("customer", "expert"):
            await self.close_leg(role)
