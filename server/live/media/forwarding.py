"""Forward received media through aiortc as encoded packets, without decoding and re-encoding.

aiortc has no public API for this, so this module is the one place that relies on its
internals (aiortc is pinned exactly in pyproject.toml; ``tests/server/test_forwarding.py``
fails loudly if an upgrade changes them):

* Each ``RTCRtpReceiver`` hands every reassembled frame, on the event loop, to
  ``self.__decoder_queue.put((codec, encoded_frame))``; a thread started in ``receive()``
  decodes it and puts the pictures on the remote track's queue (``track._queue``).
  :func:`forward_receiver` swaps that queue for an :class:`InlineForwarder` (before
  ``receive()`` runs) whose ``put`` turns the frame into an ``av.Packet`` and hands it on at
  once, on the event loop: no thread hop, no decoding, no queue (each hop costs more CPU than
  forwarding the packet). Video frames are also offered to a :class:`FrameSink` (the session's
  media worker, which decodes them for vision and burn-in).
* ``RTCRtpSender._next_encoded_frame`` packetises anything that is not an ``av.Frame`` with the
  encoder's ``pack()`` (what ``MediaPlayer(decode=False)`` relies on): a track whose ``recv()``
  returns these packets is sent on as it came.
* ``RTCRtpSender._send_keyframe`` is where a PLI/FIR from the far end lands; when forwarding it
  must reach the original sender instead (:func:`redirect_keyframe_requests`), or a late
  expert waits up to 100 s for a VP8 keyframe.
* ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)`` asks the original sender for a keyframe.
* The RTP timestamps the pages see: ``RTCRtpReceiver.__timestamp_mapper._origin`` is the first
  timestamp the phone sent (aiortc hands on timestamps counted from it), and ``_run_rtp``'s local
  ``timestamp_origin`` is the random number an ``RTCRtpSender`` adds to every timestamp it sends
  (:func:`received_timestamp_origin`, :func:`sent_timestamp_origin`). With them an AR state names
  its frame exactly as each page's video knows it (docs/ar-in-the-page.md).
* ``RTCRtpReceiver.__jitter_buffer`` releases a video frame only when the first packet of the
  *next* frame arrives, a frame interval (33 ms at 30 fps) after the frame was complete. For
  forwarded video, :class:`MarkerJitterBuffer` also releases a frame at its last packet, the
  one with the RTP marker bit set (RFC 7741 section 4.1 for VP8). aiortc also waits for a lost
  packet until 512 later ones came (half a minute on a weak link); it gives up after 600 ms.

Receivers that were not swapped keep aiortc's own decoding, so client peers in the same
process (tests, benchmarks) are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

logger = logging.getLogger(__name__)

RTP_WRAP = 2**32
# When the source of a forwarded stream changes, the outgoing timestamps continue this much later.
SOURCE_CHANGE_STEP_S = Fraction(1, 30)
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"

# What a PacketTrack carries: encoded packets, or (the benchmark's baseline) decoded frames.
Media = av.Packet | av.VideoFrame | av.AudioFrame


class FrameSink(Protocol):
    """Takes each received video frame as encoded (``server.live.workers.pool.SessionChannel``)."""

    def submit(
        self, codec: str, data: bytes, rtp_timestamp: int, clock_rate: int, keyframe: bool
    ) -> None: ...


def received_timestamp_origin(receiver: RTCRtpReceiver) -> int | None:
    """The RTP timestamp the sender put on the first frame this receiver took in (the frames' pts
    are counted from it), or None before the first."""
    mapper = getattr(receiver, "_RTCRtpReceiver__timestamp_mapper", None)
    origin = getattr(mapper, "_origin", None)
    return None if origin is None else int(origin) % RTP_WRAP


def sent_timestamp_origin(sender: RTCRtpSender) -> int | None:
    """The random number this sender adds to every frame's pts to make its RTP timestamp, or None
    before it sends (read from its running ``_run_rtp`` coroutine)."""
    task = getattr(sender, "_RTCRtpSender__rtp_task", None)
    coroutine = task.get_coro() if isinstance(task, asyncio.Task) else None
    frame = getattr(coroutine, "cr_frame", None)
    origin = frame.f_locals.get("timestamp_origin") if frame is not None else None
    return origin if isinstance(origin, int) else None


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame."""
    return bool(data) and data[0] & 0x01 == 0


def is_h264_keyframe(data: bytes) -> bool:
    """An Annex B access unit with an IDR slice (NAL type 5) or an SPS (7) starts a picture."""
    index = data.find(b"\x00\x00\x01")
    while index != -1 and index + 3 < len(data):
        if data[index + 3] & 0x1F in (5, 7):
            return True
        index = data.find(b"\x00\x00\x01", index + 3)
    return False


def is_keyframe(codec_name: str, data: bytes) -> bool:
    name = codec_name.lower()
    if name == "vp8":
        return is_vp8_keyframe(data)
    if name == "h264":
        return is_h264_keyframe(data)
    return True  # audio: every packet stands alone


# A missing packet is waited for (a NACK brings it again) until the packets after it span this much
# of the video's own clock (90 kHz, RFC 7741): more than a retransmission takes on a slow link
# (400 ms round trips were measured at 150 kbit/s).
HOLE_WAIT_TICKS = 90_000 * 600 // 1000


def _waited_enough(timestamp: int, newest_timestamp: int) -> bool:
    """``newest_timestamp`` is at least :data:`HOLE_WAIT_TICKS` after ``timestamp`` (32-bit RTP
    timestamps: a difference that wraps past half the range is negative)."""
    waited = (newest_timestamp - timestamp) & 0xFFFFFFFF
    return HOLE_WAIT_TICKS <= waited < 1 << 31


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, which also releases a frame as soon as its marker packet
    completes it (every packet from the frame's first to the marker one present), and gives up on
    a packet that is not coming.

    aiortc waits for a missing packet until 512 later ones have arrived: 3 s at 1.5 Mbit/s, but
    25 to 30 s of frozen video at the 10-20 packets a second of a weak link (measured in
    tests/e2e/test_weak_link.py before this). Past :data:`HOLE_WAIT_TICKS` the buffer moves on to
    the next whole frame after the hole and asks for a keyframe (the frames after a lost one cannot
    be decoded without one)."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli_flag, frame = super().add(packet)
        if frame is None and self._skip_hole(packet.timestamp):
            return True, self._remove_frame(packet.sequence_number)
        return pli_flag, frame

    def _skip_hole(self, newest_timestamp: int) -> bool:
        """Drop what is before the first whole frame after the first hole (a missing packet with
        later ones present), once the packets after it span :data:`HOLE_WAIT_TICKS`; True if it did."""
        if self._origin is None:
            return False
        oldest = self._packets[self._origin % self._capacity]
        if oldest is not None and not _waited_enough(oldest.timestamp, newest_timestamp):
            return False  # the usual case, a frame still arriving: nothing after it is older
        after = [self._packets[(self._origin + count) % self._capacity] for count in range(self._capacity)]
        hole = next((count for count, p in enumerate(after) if p is None), None)
        if hole is None:
            return False
        first = next((count for count in range(hole + 1, self._capacity) if after[count] is not None), None)
        if first is None:
            return False
        if not _waited_enough(after[first].timestamp, newest_timestamp):  # type: ignore[union-attr]
            return False
        for count in range(first + 1, self._capacity):
            before, current = after[count - 1], after[count]
            if before is not None and current is not None and before.marker:
                self.remove(count)
                return True
        return False

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        frame = super()._remove_frame(sequence_number)
        if frame is not None or self._origin is None:
            return frame
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None or (packets and packet.timestamp != packets[0].timestamp):
                return None
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                data = b"".join(p._data for p in packets)  # type: ignore[attr-defined]  # set by the receiver
                return JitterFrame(data=data, timestamp=packets[0].timestamp)
        return None


class InlineForwarder:
    """Stands in for a receiver's decoder queue (see the module docstring).

    ``put`` runs on the event loop, called by the receiver for each reassembled frame, and
    by the receiver's ``__stop_decoder`` with ``None``. ``get`` is what aiortc's decoder
    thread waits on: it blocks until the stop, then lets that thread end the track as usual.
    """

    def __init__(
        self, on_packet: Callable[[av.Packet], None], frames: Callable[[], FrameSink | None]
    ) -> None:
        self.on_packet = on_packet
        self.frames = frames
        self._stopped = threading.Event()

    def put(self, task: tuple[RTCRtpCodecParameters, Any] | None) -> None:
        if task is None:
            self._stopped.set()
            return
        codec, encoded_frame = task
        keyframe = is_keyframe(codec.name, encoded_frame.data)
        packet = av.Packet(encoded_frame.data)
        packet.pts = packet.dts = encoded_frame.timestamp
        packet.time_base = Fraction(1, codec.clockRate)
        packet.is_keyframe = keyframe
        self.on_packet(packet)
        sink = self.frames()
        if sink is not None:
            sink.submit(codec.name, encoded_frame.data, encoded_frame.timestamp, codec.clockRate, keyframe)

    def get(self) -> None:
        self._stopped.wait()
        return None


def forward_receiver(
    receiver: RTCRtpReceiver,
    on_packet: Callable[[av.Packet], None],
    frames: Callable[[], FrameSink | None] = lambda: None,
) -> InlineForwarder:
    """Hand each frame the receiver gets to ``on_packet`` as an encoded ``av.Packet``, and to the frame
    sink ``frames()`` gives at that moment, if any.

    Call it in the ``track`` event handler: that event fires in ``setRemoteDescription``,
    before the receiver starts its decoder thread in ``receive()``, so the swap is in time.
    The remote track itself then yields nothing until it ends.
    """
    if not isinstance(getattr(receiver, _DECODER_QUEUE, None), queue.Queue):
        raise RuntimeError("aiortc internals changed (RTCRtpReceiver.__decoder_queue); pin aiortc==1.16.0")
    forwarder = InlineForwarder(on_packet, frames)
    setattr(receiver, _DECODER_QUEUE, forwarder)
    if receiver.track.kind == "video":
        current = getattr(receiver, _JITTER_BUFFER, None)
        if not isinstance(current, JitterBuffer):
            raise RuntimeError(
                "aiortc internals changed (RTCRtpReceiver.__jitter_buffer); pin aiortc==1.16.0"
            )
        setattr(receiver, _JITTER_BUFFER, MarkerJitterBuffer(capacity=current.capacity, is_video=True))
    return forwarder


def remote_ssrcs(receiver: RTCRtpReceiver) -> list[int]:
    """The SSRCs the receiver heard in the last 10 s: the media stream's, and its retransmission
    stream's (RTX) when the sender uses one. Which is which is not public in aiortc."""
    return [source.source for source in receiver.getSynchronizationSources()]


class KeyframeRequester:
    """Asks the original sender (the phone) for a keyframe, at most once per ``min_interval_s``.

    The PLI (RFC 4585 section 6.3.1) goes to every SSRC the phone sends on. Chrome probes the link
    with padding on its RTX SSRC from the first second, so the first SSRC heard can be the RTX one;
    a PLI naming it is ignored, and VP8 then waits for the encoder's next keyframe of its own (6 to
    8 s here, or much longer: the "AR never starts" of issue 10). A PLI naming an SSRC that is not a
    media stream is dropped by the sender, so asking on each costs one small RTCP packet."""

    def __init__(self, receiver: RTCRtpReceiver, min_interval_s: float = 0.5) -> None:
        self.receiver = receiver
        self.min_interval_s = min_interval_s
        self._last = -1e9

    def request(self) -> None:
        now = time.monotonic()
        ssrcs = remote_ssrcs(self.receiver)
        if not ssrcs or now - self._last < self.min_interval_s:
            return
        self._last = now
        for ssrc in ssrcs:
            asyncio.ensure_future(self.receiver._send_rtcp_pli(ssrc))


def redirect_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """Send the far end's PLI/FIR on to ``request`` (there is no local encoder to restart)."""
    sender._send_keyframe = request  # type: ignore[method-assign]


class PacketTrack(MediaStreamTrack):
    """A local track that sends on the encoded packets pushed into it (or, for the
    benchmark's re-encoding baseline, decoded frames, which aiortc then encodes).

    Its queue is bounded: if the sender falls behind, the oldest packets are dropped (and
    for video a keyframe is requested through ``on_drop``) rather than building up delay.
    """

    def __init__(self, kind: str, maxsize: int = 120, on_drop: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[Media] = asyncio.Queue(maxsize)
        self._on_drop = on_drop
        self.dropped = 0
        self._last_in: int | None = None
        self._last_out = 0
        self._offset = 0

    def push(self, packet: Media) -> None:
        """Queue a packet to send; its timestamp is rebased so the outgoing stream never jumps
        back when the source changes (a customer who reconnects starts a new RTP clock)."""
        if self.readyState != "live":
            return
        assert packet.pts is not None and packet.time_base is not None
        step = round(SOURCE_CHANGE_STEP_S / packet.time_base)
        if self._last_in is not None and not 0 <= packet.pts - self._last_in <= 100 * step:
            self._offset = self._last_out + step - packet.pts
        self._last_in = packet.pts
        packet.pts = packet.pts + self._offset
        if isinstance(packet, av.Packet):
            packet.dts = packet.pts
        self._last_out = packet.pts
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop()
        self._queue.put_nowait(packet)

    async def recv(self) -> Media:  # type: ignore[override]
        return await self._queue.get()

    def stream_timestamp(self, incoming_pts: int) -> int:
        """The timestamp a packet that came in with ``incoming_pts`` leaves with (see :meth:`push`)."""
        return (incoming_pts + self._offset) % RTP_WRAP


class ExpertVideoTrack(PacketTrack):
    """The expert's video: the phone's packets forwarded as they came or, with burn-in on, the media
    worker's packets with the overlay drawn in. One track and one queue for both sources, so the
    switch needs no ``replaceTrack`` (aiortc's sender stays parked in the old track's ``recv()``)."""

    def __init__(self, on_drop: Callable[[], None] | None = None) -> None:
        super().__init__("video", on_drop=on_drop)
        self.burn_in = False

    def set_burn_in(self, enabled: bool) -> None:
        """From now on send only the other source's packets (the next one must be a keyframe)."""
        self.burn_in = enabled
        while not self._queue.empty():
            self._queue.get_nowait()

    def push(self, packet: Media) -> None:
        if not self.burn_in:
            super().push(packet)

    def push_burned(self, packet: av.Packet) -> None:
        if self.burn_in:
            super().push(packet)
