"""Record a session by muxing the received packets into Matroska/WebM, with no re-encoding.

Packets arrive on the event loop and are handed to one writer thread through a bounded
buffer (muxing is I/O and must not stall RTP); the thread wakes every ``WRITE_INTERVAL_S``
rather than per packet, since waking a thread for each of ~100 packets a second costs more
CPU than the muxing itself. The file is flushed as it goes, in clusters
of about a second, so a ``kill -9`` leaves a file that plays up to its last second or so
(DESIGN.md: aiortc's MediaRecorder to MP4 left an unreadable file). The file is opened at
the first video keyframe (a WebM must start on one; a keyframe is asked for when recording
starts), with three tracks: customer video, customer audio, expert audio.

Times: every packet gets a presentation time in ms since the recording started. Each
source is anchored on its arrival time and then follows its own RTP clock, so tracks stay
in sync and a customer who reconnects (a new peer connection, new RTP clocks) continues on
the same timeline.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av

logger = logging.getLogger(__name__)

TrackName = Literal["video", "customer_audio", "expert_audio"]
AUDIO_TRACKS: tuple[TrackName, ...] = ("customer_audio", "expert_audio")
MS = Fraction(1, 1000)
QUEUE_PACKETS = 2000  # about 20 s of one session's packets
WRITE_INTERVAL_S = 0.2
EARLY_AUDIO_PACKETS = 500  # audio kept while waiting for the first video keyframe
VIDEO_TIMES_KEPT = 300  # about 10 s of video frames
REANCHOR_AFTER_MS = 1000  # a source whose RTP time and arrival time drift apart by more is re-anchored
# RFC 7845 section 5.1: version 1, 2 channels, 312 samples pre-skip, 48 kHz, no gain, mapping 0
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)


@dataclass(frozen=True)
class MediaSample:
    """One received encoded frame, copied out of aiortc's packet so threads never share it."""

    track: TrackName
    data: bytes
    pts: int  # in time_base, the sender's RTP clock
    time_base: Fraction
    keyframe: bool
    arrival_ms: int  # since the recording started


@dataclass(frozen=True)
class TimedSample:
    """A sample with its place on the recording's clock, decided as it arrived."""

    sample: MediaSample
    pts_ms: int


def vp8_frame_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 section 9.1)."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width & 0x3FFF, height & 0x3FFF


class SourceClock:
    """Maps one source's RTP timestamps to recording ms (see the module docstring)."""

    def __init__(self) -> None:
        self._anchor: tuple[int, int, Fraction] | None = None  # (arrival ms, pts, time base)
        self.last_ms = -1

    def to_ms(self, sample: MediaSample) -> int:
        if self._anchor is not None:
            arrival, pts, time_base = self._anchor
            candidate = arrival + round((sample.pts - pts) * time_base * 1000)
            if time_base != sample.time_base or abs(candidate - sample.arrival_ms) > REANCHOR_AFTER_MS:
                self._anchor = None
        if self._anchor is None:
            self._anchor = (sample.arrival_ms, sample.pts, sample.time_base)
            candidate = sample.arrival_ms
        # A muxer needs strictly increasing times per track.
        self.last_ms = max(candidate, self.last_ms + 1)
        return self.last_ms


class Recorder:
    """Writes one session's ``recording.webm`` from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started_at = time.monotonic()
        self.dropped = 0
        self.last_ms = 0
        self._pending: deque[TimedSample] = deque()  # appended on the loop, drained by the thread
        # Video RTP timestamp -> recording ms, for the newest frames: what vision's results are
        # stamped with, by the same rule as the frame's own place in the file.
        self._video_ms: dict[int, int] = {}
        self._video_order: deque[int] = deque()
        self._paused = False
        self._resumed = False  # video waits for a keyframe after a pause
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recorder-{path.parent.name}", daemon=True)
        self._clocks: dict[TrackName, SourceClock] = {}
        self._container: av.container.OutputContainer | None = None
        self._streams: dict[TrackName, av.stream.Stream] = {}
        self._early_audio: deque[TimedSample] = deque(maxlen=EARLY_AUDIO_PACKETS)
        self._thread.start()

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Write nothing from now on (the customer withdrew consent) until :meth:`resume`."""
        self._paused = True

    def resume(self) -> None:
        """Write again, into the same file: audio at once, video from its next keyframe (ask for one).
        The file keeps the recording's clock, so the pause is a gap at its true place."""
        self._paused = False
        self._resumed = True

    def write(self, track: TrackName, packet: av.Packet) -> bool:
        """Queue a received packet; never blocks. False if it was not written (paused, queue full)."""
        assert packet.pts is not None and packet.time_base is not None
        if self._paused:
            return False
        if self._resumed and track == "video":
            if not packet.is_keyframe:
                return False
            self._resumed = False
        if len(self._pending) >= QUEUE_PACKETS or self._closing.is_set():
            self.dropped += 1
            if self.dropped % 100 == 1:
                logger.warning("recorder %s is behind: %d packets dropped", self.path, self.dropped)
            return False
        sample = MediaSample(
            track, bytes(packet), packet.pts, packet.time_base, packet.is_keyframe, self.elapsed_ms()
        )
        pts_ms = self._clocks.setdefault(track, SourceClock()).to_ms(sample)
        if track == "video":
            self._remember_video(sample.pts, pts_ms)
        self._pending.append(TimedSample(sample, pts_ms))
        return True

    def _remember_video(self, rtp_timestamp: int, pts_ms: int) -> None:
        if rtp_timestamp not in self._video_ms:
            self._video_order.append(rtp_timestamp)
            if len(self._video_order) > VIDEO_TIMES_KEPT:
                self._video_ms.pop(self._video_order.popleft(), None)
        self._video_ms[rtp_timestamp] = pts_ms

    def video_ms_of(self, rtp_timestamp: int) -> int | None:
        """Where the received video frame with this RTP timestamp sits in the recording (None when it
        was not recorded, or too long ago)."""
        return self._video_ms.get(rtp_timestamp)

    def close(self) -> float:
        """Finish the file (blocking: call it from a worker thread). Returns the duration in s."""
        self._closing.set()
        self._thread.join()
        return self.last_ms / 1000

    def _run(self) -> None:
        try:
            while True:
                closing = self._closing.wait(WRITE_INTERVAL_S)
                while self._pending:
                    self._write_sample(self._pending.popleft())
                if closing:
                    return
        except Exception:
            logger.exception("recorder %s failed; the file keeps what was written", self.path)
            self._closing.set()  # refuse further packets
            self._pending.clear()
        finally:
            if self._container is not None:
                self._container.close()

    def _write_sample(self, timed: TimedSample) -> None:
        sample = timed.sample
        if self._container is None:
            if sample.track != "video":
                self._early_audio.append(timed)
                return
            size = vp8_frame_size(sample.data) if sample.keyframe else None
            if size is None:
                return  # wait for a keyframe: a WebM must start on one
            self._open(*size)
            while self._early_audio:
                self._mux(self._early_audio.popleft())
        self._mux(timed)

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # flush_packets: every packet reaches the OS at once; clusters of about 1 s bound
        # what a crash can lose.
        container = av.open(
            str(self.path), "w", format="webm", options={"flush_packets": "1", "cluster_time_limit": "1000"}
        )
        video = container.add_stream("vp8")
        video.width, video.height = width, height
        video.time_base = MS
        self._streams["video"] = video
        for name in AUDIO_TRACKS:
            audio = container.add_stream("opus", rate=48000)
            audio.time_base = MS
            audio.codec_context.extradata = OPUS_HEAD
            audio.metadata["title"] = name.replace("_", " ")
            self._streams[name] = audio
        video.metadata["title"] = "customer video"
        self._container = container

    def _mux(self, timed: TimedSample) -> None:
        assert self._container is not None
        sample, pts_ms = timed.sample, timed.pts_ms
        packet = av.Packet(sample.data)
        packet.pts = packet.dts = pts_ms
        packet.time_base = MS
        packet.is_keyframe = sample.keyframe
        packet.stream = self._streams[sample.track]
        self._container.mux(packet)
        self.last_ms = max(self.last_ms, pts_ms)


def probe_duration_s(path: Path) -> float | None:
    """The end time of the last packet in a (possibly cut-off) recording, by reading it through."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    last_ms = None
    try:
        with av.open(str(path)) as container:
            for packet in container.demux():
                if packet.pts is not None and packet.time_base is not None:
                    end_ms = float(packet.pts * packet.time_base * 1000)
                    last_ms = end_ms if last_ms is None else max(last_ms, end_ms)
    except av.FFmpegError as exc:
        logger.info("recording %s ends in a cut-off cluster (%s); keeping what reads", path, exc)
    return None if last_ms is None else last_ms / 1000
