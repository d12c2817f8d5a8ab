"""Decoding the customer's video once, on the side, so vision always has the newest picture.

Forwarded video is never decoded on its way to the expert. Vision needs pictures, so each
received frame is also handed to a :class:`VisionDecoder` thread, which decodes every frame
(VP8 frames depend on the ones before) and keeps only the newest picture in a
:class:`LatestFrame`. A consumer takes the newest picture when it is free and skips the rest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from aiortc.codecs import get_decoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

logger = logging.getLogger(__name__)

# Two seconds of frames: more means the decoder cannot keep up, and waiting would only add delay.
DECODE_QUEUE_FRAMES = 60


@dataclass(frozen=True)
class DecodedFrame:
    """The newest picture decoded from the customer's video."""

    frame: av.VideoFrame
    timestamp_ms: int  # media time: RTP timestamp converted to ms
    received_at: float  # time.monotonic() when it was decoded
    sequence: int  # counts decoded frames; a consumer skips what it has seen


class LatestFrame:
    """A one-slot mailbox: the decoder overwrites, the vision worker takes the newest.

    Never a queue: a slow consumer must skip frames, not build up delay (DESIGN.md measured
    13 s of lag and 360 MB with an in-order queue and a 60 ms vision step).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._frame: DecodedFrame | None = None
        self._sequence = 0

    def put(self, frame: av.VideoFrame, timestamp_ms: int) -> None:
        with self._changed:
            self._sequence += 1
            self._frame = DecodedFrame(frame, timestamp_ms, time.monotonic(), self._sequence)
            self._changed.notify_all()

    def peek(self) -> DecodedFrame | None:
        with self._changed:
            return self._frame

    def wait_newer(self, than_sequence: int, timeout_s: float) -> DecodedFrame | None:
        """The newest frame once it is newer than ``than_sequence``; None after ``timeout_s``."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._frame is not None and self._frame.sequence > than_sequence, timeout_s
            )
            frame = self._frame
        return frame if frame is not None and frame.sequence > than_sequence else None


class VisionDecoder:
    """Decodes every received video frame in its own thread while ``wanted`` is set.

    Decoding costs about as much as forwarding itself, so it runs only while someone (the
    vision worker) wants the pictures. ``submit`` never blocks: when the queue is full the
    frame is dropped, decoding waits for the next keyframe, and ``on_gap`` asks for one.
    """

    def __init__(self, latest: LatestFrame, on_gap: Callable[[], None]) -> None:
        self.latest = latest
        self.wanted = threading.Event()
        self._on_gap = on_gap
        self._queue: queue.Queue[tuple[RTCRtpCodecParameters, Any, bool] | None] = queue.Queue(
            DECODE_QUEUE_FRAMES
        )
        self._thread: threading.Thread | None = None
        self._waiting_for_keyframe = True
        self.dropped = 0

    def submit(self, codec: RTCRtpCodecParameters, encoded_frame: Any, keyframe: bool) -> None:
        """Called on the event loop for each received frame."""
        if not self.wanted.is_set():
            self._waiting_for_keyframe = True
            return
        if self._waiting_for_keyframe:
            if not keyframe:
                return
            self._waiting_for_keyframe = False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vision-decoder", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait((codec, encoded_frame, keyframe))
        except queue.Full:
            self.dropped += 1
            self._waiting_for_keyframe = True
            self._on_gap()

    def stop(self) -> None:
        if self._thread is not None:
            while True:
                try:
                    self._queue.put_nowait(None)
                    break
                except queue.Full:
                    self._queue.get_nowait()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        decoder = None
        codec_name = None
        while (task := self._queue.get()) is not None:
            codec, encoded_frame, _keyframe = task
            if codec.name != codec_name:
                decoder, codec_name = get_decoder(codec), codec.name
            assert decoder is not None
            try:
                frames = decoder.decode(encoded_frame)
            except av.FFmpegError as exc:
                logger.debug("vision decode failed (forwarding goes on): %s", exc)
                continue
            time_base = Fraction(1, codec.clockRate)
            for frame in frames:
                if isinstance(frame, av.VideoFrame):
                    self.latest.put(frame, int(encoded_frame.timestamp * 1000 * time_base))
