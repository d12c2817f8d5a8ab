"""One session's native work inside a media worker process: decode, vision, burn-in, snapshots.

Two threads of the worker touch it, each with its own part, so no native object is ever used by two
threads at once (PyAV keeps one SwsContext per decoded frame and converts without the GIL: two
threads converting the same frame crash libswscale, the burn-in crash of issue 10):

- the **decoding thread** (the worker's receiving thread) decodes every frame (VP8 frames depend on
  the ones before) and keeps it as the newest picture, as decoded (I420, a :class:`VideoImage` no one
  writes to), converting nothing; with burn-in on, it converts it to BGR (the only thread that does),
  draws the newest AR state on a copy and encodes it;
- the **vision thread** runs the pipeline on the newest picture when it is free and the picture is
  due at the session's pace (:class:`VisionPace`), skipping the rest, so vision never holds the
  video back and its latency stays flat. It takes grey (the Y plane, no conversion) and, on a touch
  step's frames that look for hands, RGB.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np
from av.video.codeccontext import VideoCodecContext

from vision.annotations import annotation_from_shape
from vision.drawing import draw_overlay
from vision.frames import VideoImage
from vision.pacing import FramePacer
from vision.pipeline import ARPipeline, ARState, PipelineOptions
from vision.projection import ProjectedAnnotation, project_annotations

from .messages import (
    BurnedFrame,
    EncodedFrame,
    FromWorker,
    KeyframeNeeded,
    SessionFault,
    SetStep,
    SnapshotDone,
    TakeSnapshot,
    VisionDone,
    VisionPace,
)

logger = logging.getLogger(__name__)

JPEG_QUALITY = 92
SNAPSHOT_MAX_AGE_S = 1.0
BURN_IN_BITRATE = 1_500_000
VIDEO_TIME_BASE = Fraction(1, 90000)
RTP_WRAP = 2**32


@dataclass(frozen=True)
class DecodedImage:
    """The newest picture, never written to again (readers copy before drawing). ``image.bgr()``
    only on the decoding thread."""

    image: VideoImage
    timestamp_ms: int
    rtp_timestamp: int
    sequence: int
    decoded_at: float  # time.monotonic()


class RtpClock:
    """RTP timestamps (32 bits, wrapping every 13 h at 90 kHz) as ever-growing ms."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._wraps = 0

    def ms(self, rtp_timestamp: int, clock_rate: int) -> int:
        if (
            self._last is not None
            and rtp_timestamp < self._last
            and self._last - rtp_timestamp > RTP_WRAP // 2
        ):
            self._wraps += 1
        self._last = rtp_timestamp
        return (rtp_timestamp + self._wraps * RTP_WRAP) * 1000 // clock_rate


class BurnInEncoder:
    """VP8 for the expert's burned-in video (realtime settings, as aiortc's own encoder uses)."""

    def __init__(self, width: int, height: int) -> None:
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.time_base = VIDEO_TIME_BASE
        codec.bit_rate = BURN_IN_BITRATE
        codec.gop_size = 3000
        codec.options = {
            "deadline": "realtime",
            "cpu-used": "-6",
            "lag-in-frames": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
            "overshoot-pct": "15",
        }
        self.codec = codec
        self.size = (width, height)

    def encode(self, image_bgr: np.ndarray, rtp_timestamp: int, keyframe: bool) -> tuple[bytes, bool]:
        frame = av.VideoFrame.from_ndarray(image_bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = rtp_timestamp, VIDEO_TIME_BASE
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        packets = self.codec.encode(frame)
        data = b"".join(bytes(p) for p in packets)
        return data, any(p.is_keyframe for p in packets)


def pinned_shapes(
    pinned: tuple[dict[str, object], ...], width: int, height: int
) -> tuple[ProjectedAnnotation, ...]:
    """The expert's marks pinned to the screen (fractions of the frame) as shapes in frame px."""
    shapes: tuple[ProjectedAnnotation, ...] = ()
    for mark in pinned:
        fractions = mark.get("points_frame_fraction")
        if not isinstance(fractions, list) or not fractions:
            continue
        try:
            points = [(float(x) * width, float(y) * height) for x, y in fractions]
            annotation = annotation_from_shape(
                str(mark.get("shape")), points, str(mark.get("text") or "") or None
            )
        except (TypeError, ValueError, IndexError):
            continue
        shapes += project_annotations((annotation,), np.eye(3))
    return shapes


def overlay_of(
    image: np.ndarray, state: ARState | None, extra: tuple[ProjectedAnnotation, ...] = ()
) -> np.ndarray:
    """``image`` with the AR state drawn on a copy, as the expert sees it (``image`` itself when there is
    nothing to draw: it is only read)."""
    found = state is not None and state.found and state.frame_size == (image.shape[1], image.shape[0])
    outline = state.outline_frame_px if found and state is not None else None
    annotations = tuple(state.annotations) if found and state is not None else ()
    hands = state.hands if found and state is not None else ()
    target = state.target_frame_px if found and state is not None else None
    if outline is None and not extra:
        return image
    return draw_overlay(image, outline, annotations + extra, hands, target_frame_px=target)


def as_decoded(picture: av.VideoFrame) -> VideoImage:
    """A decoded picture as vision takes it: its I420 planes as they are (no conversion), or BGR for
    the rare odd-sized or non-4:2:0 stream."""
    if picture.format.name == "yuv420p" and picture.width % 2 == 0 and picture.height % 2 == 0:
        packed = picture.to_ndarray(format="yuv420p")
        packed.setflags(write=False)
        return VideoImage.from_i420(packed)
    bgr = picture.to_ndarray(format="bgr24")
    bgr.setflags(write=False)
    return VideoImage.from_bgr(bgr)


def jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return encoded.tobytes()


class SessionWork:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        # The decoding thread's.
        self._decoder: VideoCodecContext | None = None
        self._codec: str | None = None
        self._waiting_for_keyframe = True
        self._clock = RtpClock()
        self._sequence = 0
        self.burn_in = False
        self._encoder: BurnInEncoder | None = None
        self._burn_in_keyframe = True
        # Shared: set by one thread, read by the other (whole values only).
        self.latest: DecodedImage | None = None
        # Vision's newest result and the picture it was computed on, as one value.
        self.last_result: tuple[DecodedImage, ARState] | None = None
        self._lock = threading.Lock()
        self._options: PipelineOptions | None = None
        self._pace = VisionPace()
        self._options_version = 0
        self._step = SetStep(session_id, 0, (), None)
        self.closed = False
        # The vision thread's.
        self._pipeline: ARPipeline | None = None
        self._frames_due = FramePacer(None)
        self._hands_due = FramePacer(None)
        self._built_version = 0
        self._applied_generation = -1
        self._processed = 0

    @property
    def last_state(self) -> ARState | None:
        result = self.last_result
        return result[1] if result is not None else None

    # --- the decoding thread ------------------------------------------------------------------

    def decode(self, frame: EncodedFrame) -> list[FromWorker]:
        """Decode one frame; returns what to send back (a burned-in frame, a keyframe request)."""
        if self._waiting_for_keyframe:
            if not frame.keyframe:
                return []
            self._waiting_for_keyframe = False
        if frame.codec != self._codec or self._decoder is None:
            decoder = av.CodecContext.create(frame.codec.lower(), "r")
            assert isinstance(decoder, VideoCodecContext)
            self._decoder = decoder
            self._codec = frame.codec
        try:
            pictures = self._decoder.decode(av.Packet(frame.data))
        except av.FFmpegError as exc:
            logger.debug(
                "session %s: a frame did not decode (%s); waiting for a keyframe", self.session_id, exc
            )
            self._waiting_for_keyframe = True
            return [KeyframeNeeded(self.session_id)]
        out: list[FromWorker] = []
        for picture in pictures:
            image = as_decoded(picture)
            self._sequence += 1
            timestamp_ms = self._clock.ms(frame.rtp_timestamp, frame.clock_rate)
            self.latest = DecodedImage(
                image, timestamp_ms, frame.rtp_timestamp, self._sequence, time.monotonic()
            )
            if self.burn_in:
                out.append(self._burned(image.bgr(), frame.rtp_timestamp))
        return out

    def _burned(self, bgr: np.ndarray, rtp_timestamp: int) -> BurnedFrame:
        height, width = bgr.shape[:2]
        if self._encoder is None or self._encoder.size != (width, height):
            self._encoder = BurnInEncoder(width, height)
            self._burn_in_keyframe = True
        data, keyframe = self._encoder.encode(
            overlay_of(bgr, self.last_state), rtp_timestamp, self._burn_in_keyframe
        )
        self._burn_in_keyframe = False
        return BurnedFrame(self.session_id, data, rtp_timestamp, keyframe)

    def set_burn_in(self, enabled: bool) -> None:
        self.burn_in = enabled
        self._burn_in_keyframe = True

    def burn_in_keyframe(self) -> None:
        self._burn_in_keyframe = True

    def snapshot(self, request: TakeSnapshot) -> SnapshotDone:
        """The picture vision saw last, with its own AR state, or (vision off or behind) the newest
        picture alone; only a current one (decoding stops while nobody wants pictures, so an old one
        may still be kept)."""
        result = self.last_result
        picture: DecodedImage | None
        state: ARState | None
        if result is not None and time.monotonic() - result[0].decoded_at <= SNAPSHOT_MAX_AGE_S:
            picture, state = result
        else:
            picture, state = self.latest, None
        if picture is None or time.monotonic() - picture.decoded_at > SNAPSHOT_MAX_AGE_S:
            return SnapshotDone(
                self.session_id, request.request_id, None, None, None, "no current picture yet"
            )
        bgr = picture.image.bgr()
        height, width = bgr.shape[:2]
        marked = overlay_of(bgr, state, pinned_shapes(request.pinned, width, height))
        return SnapshotDone(self.session_id, request.request_id, jpeg(bgr), jpeg(marked), state)

    # --- either thread: what vision should do -------------------------------------------------

    def set_vision(self, options: PipelineOptions | None, pace: VisionPace | None = None) -> None:
        with self._lock:
            self._options = options
            self._pace = pace or VisionPace()
            self._options_version += 1

    def set_step(self, step: SetStep) -> None:
        with self._lock:
            self._step = step

    # --- the vision thread ---------------------------------------------------------------------

    def has_new_picture(self) -> bool:
        latest = self.latest
        return latest is not None and latest.sequence != self._processed

    def prepare(self) -> None:
        """Build (or drop) the pipeline when the options changed: before frames arrive, since building
        it (the reference's features, the hand model) takes most of a second."""
        with self._lock:
            options, pace, version = self._options, self._pace, self._options_version
        if version != self._built_version:
            self._close_pipeline()
            self._built_version = version
            self._frames_due = FramePacer(pace.fps)
            self._hands_due = FramePacer(pace.hands_fps)
            if options is not None:
                self._pipeline = ARPipeline(options)

    def run_vision(self) -> FromWorker | None:
        """Vision on the newest picture, if there is a new one and vision is on."""
        try:
            self.prepare()
            latest = self.latest
            if self._pipeline is None or latest is None or latest.sequence == self._processed:
                return None
            with self._lock:
                step = self._step
            if step.generation != self._applied_generation:
                self._pipeline.set_step(step.annotations, step.rule)
                self._applied_generation = step.generation
            self._processed = latest.sequence
            if not self._frames_due.take(latest.timestamp_ms):
                return None
            look_for_hands = self._hands_due.take(latest.timestamp_ms)
            try:
                state = self._pipeline.process(
                    latest.image, latest.timestamp_ms, look_for_hands=look_for_hands
                )
            except ValueError as exc:
                # The customer reconnected: a new stream whose clock starts again.
                logger.info("session %s: vision restarts (%s)", self.session_id, exc)
                self._close_pipeline()
                self._built_version = -1
                return None
        except Exception as exc:  # noqa: BLE001 - one session's fault must not stop the worker
            logger.exception("session %s: vision failed", self.session_id)
            self._close_pipeline()
            with self._lock:
                self._options = None
                self._options_version += 1
                self._built_version = self._options_version
            return SessionFault(self.session_id, f"vision failed: {exc}")
        self.last_result = (latest, state)
        return VisionDone(self.session_id, step.generation, state, latest.rtp_timestamp)

    def close(self) -> None:
        """Vision thread: free the pipeline (the hand model holds native resources)."""
        self._close_pipeline()

    def _close_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
            self._applied_generation = -1
