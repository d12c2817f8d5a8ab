"""Forward received media through aiortc as encoded packets, without decoding and re-encoding.

aiortc has no public API for this, so this module is the one place that relies on its
internals (aiortc is pinned exactly in pyproject.toml; ``tests/server/test_forwarding.py``
fails loudly if an upgrade changes them):

* ``aiortc.rtcrtpreceiver.decoder_worker(loop, input_q, output_q, decode_error)`` is the thread
  each ``RTCRtpReceiver`` starts in ``receive()``; it asks the module-level ``get_decoder`` for
  a decoder and puts what ``decode()`` returns on the remote track's queue (``output_q``).
  :func:`install` swaps in a worker that, for the tracks registered with :func:`forward_track`,
  uses an :class:`EncodedFrameTap` instead: its ``decode()`` returns the encoded frame as an
  ``av.Packet`` (so ``track.recv()`` yields packets), and for video it also decodes the frame
  once, in that same thread, to keep the newest picture for vision.
* ``RTCRtpSender._next_encoded_frame`` packetises anything that is not an ``av.Frame`` with the
  encoder's ``pack()`` (what ``MediaPlayer(decode=False)`` relies on): a track whose ``recv()``
  returns these packets is sent on as it came.
* ``RTCRtpSender._send_keyframe`` is where a PLI/FIR from the far end lands; when forwarding it
  must reach the original sender instead (:func:`redirect_keyframe_requests`), or a late
  expert waits up to 100 s for a VP8 keyframe.
* ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)`` asks the original sender for a keyframe.

Tracks that were not registered keep aiortc's own decoding, so client peers in the same
process (tests, benchmarks) are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from aiortc import RTCRtpReceiver, RTCRtpSender, rtcrtpreceiver
from aiortc.codecs import get_decoder
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

logger = logging.getLogger(__name__)

# When the source of a forwarded stream changes, the outgoing timestamps continue this much later.
SOURCE_CHANGE_STEP_S = Fraction(1, 30)


@dataclass(frozen=True)
class DecodedFrame:
    """The newest picture decoded from a forwarded video track."""

    frame: av.VideoFrame
    timestamp_ms: int  # media time: RTP timestamp converted to ms
    received_at: float  # time.monotonic() when it was decoded
    sequence: int  # counts decoded frames; a consumer skips what it has seen


class LatestFrame:
    """A one-slot mailbox: the decoder thread overwrites, the vision worker takes the newest.

    Never a queue: a slow consumer must skip frames, not build up delay (DESIGN.md measured
    13 s of lag and 360 MB with an in-order queue and a 60 ms vision step).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: DecodedFrame | None = None
        self._sequence = 0
        # Decoding costs about as much as forwarding itself, so it runs only while someone
        # (the vision worker) wants the pictures.
        self.wanted = threading.Event()

    def put(self, frame: av.VideoFrame, timestamp_ms: int) -> None:
        with self._lock:
            self._sequence += 1
            self._frame = DecodedFrame(frame, timestamp_ms, time.monotonic(), self._sequence)

    def peek(self) -> DecodedFrame | None:
        with self._lock:
            return self._frame


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


class EncodedFrameTap:
    """Stands in for a decoder: each encoded frame comes out as an ``av.Packet``.

    With ``latest`` set (video), the frame is also decoded with aiortc's real decoder and
    the picture is kept in ``latest``; a decode error there never stops forwarding.
    """

    def __init__(self, codec: RTCRtpCodecParameters, latest: LatestFrame | None) -> None:
        self.codec_name = codec.name
        self.time_base = Fraction(1, codec.clockRate)
        self.latest = latest
        self._vision_decoder = get_decoder(codec) if latest is not None else None

    def decode(self, encoded_frame: Any) -> list[av.Packet]:
        packet = av.Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        packet.is_keyframe = is_keyframe(self.codec_name, encoded_frame.data)
        if self._vision_decoder is not None and self.latest is not None and self.latest.wanted.is_set():
            try:
                for frame in self._vision_decoder.decode(encoded_frame):
                    self.latest.put(frame, int(encoded_frame.timestamp * 1000 * self.time_base))
            except av.FFmpegError as exc:
                logger.debug("vision decode failed (forwarding goes on): %s", exc)
        return [packet]


# Remote-track queue -> the LatestFrame for its pictures (None for audio or no vision).
_forwarded: weakref.WeakKeyDictionary[asyncio.Queue[Any], LatestFrame | None] = weakref.WeakKeyDictionary()
_original_worker: Callable[..., None] | None = None


def _worker(
    loop: asyncio.AbstractEventLoop, input_q: Any, output_q: asyncio.Queue[Any], decode_error: threading.Event
) -> None:
    if output_q not in _forwarded:
        assert _original_worker is not None
        _original_worker(loop, input_q, output_q, decode_error)
        return
    latest = _forwarded[output_q]
    tap: EncodedFrameTap | None = None
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        codec, encoded_frame = task
        if tap is None or tap.codec_name != codec.name:
            tap = EncodedFrameTap(codec, latest if codec.mimeType.startswith("video/") else None)
        for packet in tap.decode(encoded_frame):
            asyncio.run_coroutine_threadsafe(output_q.put(packet), loop)


def install() -> None:
    """Swap in the forwarding decoder worker (idempotent). Call before any receiver starts."""
    global _original_worker
    if _original_worker is not None:
        return
    if not hasattr(rtcrtpreceiver, "decoder_worker") or not hasattr(RTCRtpSender, "_send_keyframe"):
        raise RuntimeError("this aiortc version lacks the internals forwarding relies on; pin aiortc==1.16.0")
    _original_worker = rtcrtpreceiver.decoder_worker
    rtcrtpreceiver.decoder_worker = _worker


def forward_track(track: MediaStreamTrack, latest: LatestFrame | None = None) -> None:
    """Make a remote track yield encoded ``av.Packet``s; call it in the ``track`` event handler.

    The ``track`` event fires in ``setRemoteDescription``, before the receiver starts its
    decoder thread, so registering here is always in time.
    """
    install()
    queue = getattr(track, "_queue", None)
    if not isinstance(queue, asyncio.Queue):
        raise RuntimeError("remote track has no _queue: aiortc internals changed; pin aiortc==1.16.0")
    _forwarded[queue] = latest


def remote_ssrc(receiver: RTCRtpReceiver) -> int | None:
    sources = receiver.getSynchronizationSources()
    return sources[0].source if sources else None


class KeyframeRequester:
    """Asks the original sender (the phone) for a keyframe, at most once per ``min_interval_s``."""

    def __init__(self, receiver: RTCRtpReceiver, min_interval_s: float = 0.5) -> None:
        self.receiver = receiver
        self.min_interval_s = min_interval_s
        self._last = -1e9

    def request(self) -> None:
        now = time.monotonic()
        ssrc = remote_ssrc(self.receiver)
        if ssrc is None or now - self._last < self.min_interval_s:
            return
        self._last = now
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
        self._queue: asyncio.Queue[av.Packet | av.VideoFrame] = asyncio.Queue(maxsize)
        self._on_drop = on_drop
        self.dropped = 0
        self._last_in: int | None = None
        self._last_out = 0
        self._offset = 0

    def push(self, packet: av.Packet | av.VideoFrame) -> None:
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

    async def recv(self) -> av.Packet | av.VideoFrame:  # type: ignore[override]
        return await self._queue.get()
