"""Cheap synthetic participants for the capacity benchmark: replayed packets in, bytes counted out.

The server forwards the phone's encoded media unchanged, so its load can be made without an encoder
per customer or a decoder per expert, which would otherwise cost the load generator more than the
server:

* A **replay customer** sends a clip encoded once (:func:`encode_vp8`, libvpx with the realtime
  settings of aiortc's own encoder) through a real aiortc ``RTCPeerConnection``: its
  :class:`ReplayTrack` returns ``av.Packet`` objects, which aiortc's sender packetises with the
  codec's ``pack()`` instead of encoding (what ``MediaPlayer(decode=False)`` relies on). The loop
  has one keyframe, at its start; a keyframe request (PLI/FIR) makes the next frame sent the loop's
  first. Audio is Opus encoded once, replayed the same way.
* A **counting expert** does not decode: its receivers are swapped with
  ``server.live.media.forwarding.forward_receiver`` (the server's own hook), so each reassembled
  frame arrives as bytes. The bytes identify the frame (:attr:`EncodedClip.index_of`: the server
  must not change them), and its latency is its arrival time minus the time its customer, in the same
  process, last sent that frame of the loop. An expert behind a decode-and-re-encode relay gets other
  bytes: it decodes (``decode=True``) and reads the frame's number from its pixels instead.
* With ``ar=True`` the expert opens the ``ar`` data channel as the console does and keeps the
  ``lag_ms`` of every ``ar_state`` (the server's: newest frame received minus the state's frame).

Both kinds of expert release a frame at its RTP marker packet (``MarkerJitterBuffer``, as the
server's receivers do), so a receiver adds no frame interval of its own to the latency.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import math
import time
from array import array
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.live.media.forwarding import MarkerJitterBuffer, forward_receiver, redirect_keyframe_requests
from signaling.messages import PROTOCOL_VERSION
from tests.clipgen import read_frame_number
from tests.synthetic_peers import board_camera
from tests.ws_participants import _answerer, _open, _read_rest, link_token, new_session

FPS = 30
CLIP_FRAMES = 90  # 3 s: one period of the board's motion, and the loop's one keyframe every 3 s
VIDEO_CLOCK_HZ = 90000
AUDIO_RATE_HZ = 48000
AUDIO_PTIME_S = 0.020
# A sender that wakes this late stops catching up instead of sending the backlog in a burst: a camera
# that misses its time sends fewer frames, never a pile of old ones.
MAX_SEND_BEHIND_S = 0.1
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"  # aiortc 1.16 internals, as forwarding.py


@dataclass(frozen=True)
class EncodedClip:
    """A clip encoded once: ``frames[i]`` is frame ``i`` of the loop, ``frames[0]`` its only keyframe."""

    size: tuple[int, int]
    frames: tuple[bytes, ...]
    index_of: Mapping[bytes, int]  # an encoded frame -> its index in the loop

    @property
    def bitrate_bps(self) -> float:
        return sum(len(f) for f in self.frames) * 8 * FPS / len(self.frames)


def encode_vp8(pictures_bgr: Sequence[np.ndarray], bitrate_bps: int) -> EncodedClip:
    """Encode the pictures once with libvpx in realtime mode, as aiortc's encoder does (CBR,
    ``deadline=realtime``, no lag), with a keyframe at the first picture only."""
    height, width = pictures_bgr[0].shape[:2]
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate_bps
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = len(pictures_bgr)
    codec.qmin, codec.qmax = 2, 56
    codec.options = {
        "bufsize": str(bitrate_bps),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(bitrate_bps),
        "maxrate": str(bitrate_bps),
        "noise-sensitivity": "4",
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
    }
    frames: list[bytes] = []
    for index, picture in enumerate(pictures_bgr):
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")
        frame.pts = index
        frames.extend(bytes(packet) for packet in codec.encode(frame))
    frames.extend(bytes(packet) for packet in codec.encode(None))
    if len(frames) != len(pictures_bgr):
        raise RuntimeError(f"libvpx gave {len(frames)} frames for {len(pictures_bgr)} pictures")
    index_of = {data: index for index, data in enumerate(frames)}
    if len(index_of) != len(frames):
        raise RuntimeError("two frames of the clip encoded to the same bytes: they could not be told apart")
    return EncodedClip((width, height), tuple(frames), index_of)


def board_clip(size: tuple[int, int], bitrate_bps: int) -> EncodedClip:
    """The board moving over a desk (``tests/synthetic_peers.board_camera``: what vision locates), each
    frame's number in its pixels, encoded once."""
    return encode_vp8([f.bgr for f in board_camera(num_frames=CLIP_FRAMES, size=size).frames()], bitrate_bps)


def encode_opus_tone(frequency_hz: float, seconds: float = 1.0) -> tuple[bytes, ...]:
    """A mono tone as 20 ms Opus packets, encoded once (a whole number of periods: it loops cleanly)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE_HZ
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 32000
    samples_per_packet = round(AUDIO_RATE_HZ * AUDIO_PTIME_S)
    count = round(seconds / AUDIO_PTIME_S)
    t = np.arange(count * samples_per_packet) / AUDIO_RATE_HZ
    tone = (0.3 * 32767 * np.sin(2 * math.pi * frequency_hz * t)).astype(np.int16)
    packets: list[bytes] = []
    for index in range(count):
        chunk = tone[index * samples_per_packet : (index + 1) * samples_per_packet]
        frame = av.AudioFrame.from_ndarray(np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE_HZ
        frame.pts = index * samples_per_packet
        frame.time_base = fractions.Fraction(1, AUDIO_RATE_HZ)
        packets.extend(bytes(p) for p in codec.encode(frame))
    packets.extend(bytes(p) for p in codec.encode(None))
    return tuple(packets[:count])


class ReplayTrack(MediaStreamTrack):
    """Sends pre-encoded packets in a loop at their real-time pace (one per ``interval_s``).

    ``sent_at[i]`` is when entry ``i`` of the loop last left; ``late_s`` how late each send woke
    (the load generator's event loop falling behind shows here first). :meth:`pause` stops the
    stream without closing the connection, and the next packet after :meth:`resume` continues it.
    """

    def __init__(self, kind: str, payloads: Sequence[bytes], interval_s: float, clock_hz: int) -> None:
        super().__init__()
        self.kind = kind
        self.payloads = payloads
        self.interval_s = interval_s
        self.time_base = fractions.Fraction(1, clock_hz)
        self.ticks = round(interval_s * clock_hz)
        self.sent = 0
        self.sent_at = [0.0] * len(payloads)
        self.late_s: list[float] = []
        self._position = 0
        self._keyframe_wanted = False
        self._due: float | None = None
        self._sending = asyncio.Event()
        self._sending.set()

    def pause(self) -> None:
        self._sending.clear()

    def resume(self) -> None:
        self._sending.set()

    def request_keyframe(self) -> None:
        """A PLI/FIR: the next frame sent is the loop's keyframe (its first)."""
        self._keyframe_wanted = True

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if not self._sending.is_set():
            await self._sending.wait()
            self._due = None
        now = time.monotonic()
        if self._due is None or now - self._due > MAX_SEND_BEHIND_S:
            self._due = now
        elif self._due > now:
            await asyncio.sleep(self._due - now)
            now = time.monotonic()
        self.late_s.append(now - self._due)
        self._due += self.interval_s
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            self._position = 0
        index = self._position
        self._position = (index + 1) % len(self.payloads)
        packet = av.Packet(self.payloads[index])
        packet.pts = packet.dts = self.sent * self.ticks
        packet.time_base = self.time_base
        self.sent += 1
        self.sent_at[index] = now
        return packet


class FrameArrivals:
    """The frames one expert received: when each arrived and how long after its customer sent it."""

    def __init__(self, clip: EncodedClip, sender: ReplayTrack) -> None:
        self.clip = clip
        self.sender = sender
        self.arrived_at = array("d")
        self.latency_ms = array("d")
        self.indices = array("i")
        self.unknown = 0  # frames that matched no frame of the clip (changed bytes, or unreadable)

    def on_payload(self, data: bytes) -> None:
        index = self.clip.index_of.get(data)
        if index is None:
            self.unknown += 1
        else:
            self.record(index, time.monotonic())

    def record(self, index: int, arrived_at: float) -> None:
        self.indices.append(index)
        self.arrived_at.append(arrived_at)
        self.latency_ms.append((arrived_at - self.sender.sent_at[index]) * 1000)

    def clear(self) -> None:
        self.arrived_at, self.latency_ms, self.indices = array("d"), array("d"), array("i")
        self.unknown = 0


class ArStates:
    """The ``ar_state`` messages an expert received on the ``ar`` data channel, with their ``lag_ms``."""

    def __init__(self) -> None:
        self.count = 0
        self.lag_ms = array("d")

    def on_message(self, raw: str | bytes) -> None:
        state = json.loads(raw)
        if state.get("type") != "ar_state":
            return
        self.count += 1
        if state.get("lag_ms") is not None:
            self.lag_ms.append(float(state["lag_ms"]))

    def clear(self) -> None:
        self.count, self.lag_ms = 0, array("d")


@dataclass
class LoadPeer:
    """One synthetic participant: what it sends, and what it counted of what it received."""

    pc: RTCPeerConnection
    sending: list[ReplayTrack] = field(default_factory=list)
    video_out: ReplayTrack | None = None
    frames: FrameArrivals | None = None
    ar: ArStates | None = None
    audio_packets_in: list[int] = field(default_factory=lambda: [0])
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def pause(self) -> None:
        for track in self.sending:
            track.pause()

    def resume(self) -> None:
        for track in self.sending:
            track.resume()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


Answerer = Callable[[str], Awaitable[str]]


def _peer_connection() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN host: loopback only


def _receiver_of(pc: RTCPeerConnection, track: MediaStreamTrack) -> RTCRtpReceiver:
    return next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)


def _count_audio(peer: LoadPeer, receiver: RTCRtpReceiver) -> None:
    def count(_packet: av.Packet) -> None:
        peer.audio_packets_in[0] += 1

    forward_receiver(receiver, count)


async def _read_numbered_frames(track: MediaStreamTrack, frames: FrameArrivals) -> None:
    """Decoded frames (behind a re-encoding relay): the number in the pixels names the loop's frame."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        assert isinstance(frame, av.VideoFrame)
        arrived_at = time.monotonic()
        number = read_frame_number(frame.to_ndarray(format="gray"))
        if number is None or number >= len(frames.clip.frames):
            frames.unknown += 1
        else:
            frames.record(number, arrived_at)


def _add_audio(peer: LoadPeer, audio: Sequence[bytes]) -> None:
    track = ReplayTrack("audio", audio, AUDIO_PTIME_S, AUDIO_RATE_HZ)
    peer.pc.addTrack(track)
    peer.sending.append(track)


def replay_customer(clip: EncodedClip, audio: Sequence[bytes] | None = None) -> LoadPeer:
    """A phone that replays ``clip`` (and ``audio``), counting the audio it is sent; not yet offered."""
    peer = LoadPeer(_peer_connection())

    @peer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            _count_audio(peer, _receiver_of(peer.pc, track))

    if audio is not None:
        _add_audio(peer, audio)
    video = ReplayTrack("video", clip.frames, 1 / FPS, VIDEO_CLOCK_HZ)
    sender = peer.pc.addTrack(video)
    redirect_keyframe_requests(sender, video.request_keyframe)
    transceiver = next(t for t in peer.pc.getTransceivers() if t.sender is sender)
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")])
    peer.sending.append(video)
    peer.video_out = video
    return peer


def counting_expert(clip: EncodedClip, customer: LoadPeer, decode: bool = False) -> LoadPeer:
    """A console that matches each frame it receives to ``customer``'s clip; not yet negotiated.

    ``decode``: decode and read the frame number from the pixels (behind a re-encoding relay)."""
    assert customer.video_out is not None
    peer = LoadPeer(_peer_connection(), frames=FrameArrivals(clip, customer.video_out))
    frames = peer.frames
    assert frames is not None

    @peer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        receiver = _receiver_of(peer.pc, track)
        if track.kind == "audio":
            _count_audio(peer, receiver)
        elif decode:
            current = getattr(receiver, _JITTER_BUFFER)
            setattr(receiver, _JITTER_BUFFER, MarkerJitterBuffer(capacity=current.capacity, is_video=True))
            peer.tasks.append(asyncio.ensure_future(_read_numbered_frames(track, frames)))
        else:
            forward_receiver(receiver, lambda packet: frames.on_payload(bytes(packet)))

    return peer


async def offer(pc: RTCPeerConnection, answer_offer: Answerer) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    answer = await answer_offer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


async def direct_pair(
    clip: EncodedClip,
    audio: Sequence[bytes] | None = None,
    expert_audio: Sequence[bytes] | None = None,
    decode: bool = False,
) -> tuple[LoadPeer, LoadPeer]:
    """A customer connected straight to an expert, no server between: the latency floor."""
    customer = replay_customer(clip, audio)
    expert = counting_expert(clip, customer, decode)

    async def answer(sdp: str) -> str:
        await expert.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if expert_audio is not None:
            _add_audio(expert, expert_audio)  # after the offer: it takes the offered audio transceiver
        await expert.pc.setLocalDescription(await expert.pc.createAnswer())
        return str(expert.pc.localDescription.sdp)

    await offer(customer.pc, answer)
    return customer, expert


@dataclass
class Joined:
    """A participant connected through the server: its ``/ws`` socket and its peer."""

    socket: Any
    peer: LoadPeer
    reader: asyncio.Task[None]

    async def close(self) -> None:
        self.reader.cancel()
        await self.peer.close()
        await self.socket.close()


def _keep_reading(socket: Any) -> asyncio.Task[None]:
    """The server's other messages are not needed, but must be read."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(100)
    return asyncio.ensure_future(_read_rest(socket, inbox))


async def relayed_pair(
    base_url: str,
    api_token: str,
    clip: EncodedClip,
    audio: Sequence[bytes] | None = None,
    expert_audio: Sequence[bytes] | None = None,
    procedure_id: str | None = None,
    decode: bool = False,
    title: str = "capacity",
) -> tuple[Joined, Joined]:
    """A new session on the server with a replay customer (consenting: recorded) and a counting
    expert joined over ``/ws``. With ``procedure_id`` the expert picks it, so vision runs, and opens
    the ``ar`` data channel (unordered, no retransmits, as the console does)."""
    session = new_session(base_url, api_token, title)
    join = {
        "type": "join",
        "version": PROTOCOL_VERSION,
        "role": "customer",
        "token": link_token(session),
        "consent": True,
    }
    customer_socket, _ = await _open(base_url, join, {})
    customer = replay_customer(clip, audio)
    await offer(customer.pc, lambda sdp: _answerer(customer_socket, sdp))
    headers = {"Authorization": f"Bearer {api_token}"}
    expert_join = {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": session["id"]}
    expert_socket, _ = await _open(base_url, expert_join, headers)
    expert = counting_expert(clip, customer, decode)
    if expert_audio is not None:
        _add_audio(expert, expert_audio)
    expert.pc.addTransceiver("video", direction="recvonly")
    if procedure_id is not None:
        states = ArStates()
        channel = expert.pc.createDataChannel("ar", ordered=False, maxRetransmits=0)
        channel.on("message", states.on_message)
        expert.ar = states
    await offer(expert.pc, lambda sdp: _answerer(expert_socket, sdp))
    if procedure_id is not None:
        await expert_socket.send(json.dumps({"type": "set_procedure", "procedure_id": procedure_id}))
    return (
        Joined(customer_socket, customer, _keep_reading(customer_socket)),
        Joined(expert_socket, expert, _keep_reading(expert_socket)),
    )
