"""Export a recording as an MP4 (H.264 + AAC) anyone can play, with overlays burned in on request.

The recording is a WebM of the phone's VP8 and two Opus tracks (customer and expert voices), made
for crash safety rather than for sharing. An export decodes it in one pass over the file (in
timestamp order, so memory stays flat for an hour-long session) and encodes libx264 (yuv420p,
preset fast) and AAC into MP4:

- Video keeps the recording's timestamps (ms since the recording started, the clock of the event
  log), so event times, chapters and the MP4 agree; only the first frame is moved to 0 so the file
  does not open on a gap. The picture keeps the size of the first frame (a phone that rotates is
  scaled into it) rounded down to even numbers, as yuv420p needs.
- Audio: both voices are decoded, placed at their timestamps and summed (:class:`AudioMix`), so
  the export has the customer and the expert on one stereo track, with silence where nobody spoke.
- Burn-in draws, on each frame at t, what :meth:`server.recordings.replay.Replay.overlay_at` gives (the
  device outline, the step's annotations and the expert's anchored marks) with
  :func:`vision.drawing.draw_overlay`, the same drawing as the live burn-in, labels kept off the
  step's touch target as they are live.
- A cut-off recording (a crash mid-cluster) is exported up to where it stops reading; the report
  says so.

Blocking and CPU-bound, and native code that can crash: the server runs it in a child process
(``exports.py``, ``make_cached_export``), the CLI in its own; never on an event loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.resampler import AudioResampler

from vision.drawing import draw_overlay

from .audio_mix import AUDIO_RATE, MIX_LAG_MS, AudioMix
from .recorder import probe_duration_s
from .replay import Replay
from .voices import MIXED_TITLE

logger = logging.getLogger(__name__)

MS = Fraction(1, 1000)
AAC_FRAME_SAMPLES = 1024
PARTIAL_SLACK_MS = 1000  # reading ends this far before the header's duration: the file is cut off
X264_OPTIONS = {"preset": "fast", "crf": "23"}
Progress = Callable[[float, float], None]  # (seconds done, seconds in all)


class ExportError(Exception):
    """The recording cannot be exported (no file, no video); the message says why."""


@dataclass
class ExportReport:
    duration_s: float
    video_frames: int
    audio_tracks: int
    burned_in_frames: int = 0
    partial: bool = False
    decode_errors: int = 0
    notes: list[str] = field(default_factory=list)


def _even(value: int) -> int:
    return max(2, value - value % 2)


class _Encoder:
    """The MP4 being written: one H.264 and one AAC stream."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.container.add_stream("libx264", rate=30, options=X264_OPTIONS)
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        self.video.time_base = MS
        self.video.codec_context.time_base = MS
        self.audio = self.container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        self.audio.time_base = Fraction(1, AUDIO_RATE)
        self.size = (width, height)
        self.last_video_ms = -1
        self.audio_samples = 0

    def video_frame(self, frame: av.VideoFrame, t_ms: int) -> None:
        pts = max(t_ms, self.last_video_ms + 1)
        self.last_video_ms = pts
        frame.pts, frame.time_base = pts, MS
        self.container.mux(self.video.encode(frame))

    def audio_samples_in(self, samples: np.ndarray) -> None:
        for start in range(0, samples.shape[1], AAC_FRAME_SAMPLES):
            chunk = np.ascontiguousarray(samples[:, start : start + AAC_FRAME_SAMPLES])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts, frame.time_base = self.audio_samples, Fraction(1, AUDIO_RATE)
            self.audio_samples += chunk.shape[1]
            self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        self.container.mux(self.audio.encode(None))
        self.container.close()


def export_recording(
    media: Path,
    out: Path,
    replay: Replay | None = None,
    *,
    progress: Progress | None = None,
) -> ExportReport:
    """Write ``media`` (a recording's WebM) to ``out`` as MP4; with a ``replay``, its overlays drawn
    in (burn-in). The file appears at ``out`` only when complete (written beside it, then renamed)."""
    if not media.is_file() or media.stat().st_size == 0:
        raise ExportError(f"there is no recording at {media}")
    total_s = probe_duration_s(media) or 0.0
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        report = _transcode(media, tmp, replay, total_s, progress)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _transcode(
    media: Path, out: Path, replay: Replay | None, total_s: float, progress: Progress | None
) -> ExportReport:
    report = ExportReport(duration_s=0.0, video_frames=0, audio_tracks=0)
    encoder: _Encoder | None = None
    mix = AudioMix()
    try:
        source = av.open(str(media))
    except av.FFmpegError as exc:
        raise ExportError(f"the recording {media} cannot be read: {exc}") from None
    with source:
        if not source.streams.video:
            raise ExportError("the recording has no video track")
        video_in = source.streams.video[0]
        # The separate voices, mixed here; a "both voices" track is the same mix already.
        audio_in = [s for s in source.streams.audio if s.metadata.get("title", "") != MIXED_TITLE]
        report.audio_tracks = len(audio_in)
        resamplers = {
            s.index: AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE) for s in audio_in
        }
        position_ms = 0
        try:
            for packet in source.demux(video_in, *audio_in):
                if packet.pts is not None and packet.time_base is not None:
                    position_ms = max(position_ms, int(packet.pts * packet.time_base * 1000))
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    report.decode_errors += 1
                    continue
                for frame in frames:
                    if isinstance(frame, av.VideoFrame):
                        if encoder is None:
                            encoder = _Encoder(out, _even(frame.width), _even(frame.height))
                        t_ms = 0 if report.video_frames == 0 else _frame_ms(frame)
                        report.burned_in_frames += _encode_video(encoder, frame, t_ms, replay)
                        report.video_frames += 1
                    elif isinstance(frame, av.AudioFrame) and frame.pts is not None and frame.time_base:
                        start = round(float(frame.pts * frame.time_base) * AUDIO_RATE)
                        for resampled in resamplers[packet.stream.index].resample(frame):
                            mix.add(start, resampled.to_ndarray().astype(np.float32))
                            start += resampled.samples
                if encoder is not None:
                    encoder.audio_samples_in(
                        mix.take((position_ms - MIX_LAG_MS) * AUDIO_RATE // 1000, AAC_FRAME_SAMPLES)
                    )
                if progress is not None:
                    progress(min(position_ms / 1000, total_s), total_s)
        except av.FFmpegError as exc:
            report.partial = True
            report.notes.append(
                f"the recording is cut off at {position_ms / 1000:.1f} s ({exc}); exported up to there"
            )
        if not report.partial:
            _check_complete(report, source.duration, position_ms)
        if encoder is None:
            raise ExportError("the recording has no video frame that decodes")
        end_sample = max(mix.written_end, (encoder.last_video_ms + 34) * AUDIO_RATE // 1000)
        encoder.audio_samples_in(mix.take(end_sample + AAC_FRAME_SAMPLES - 1, AAC_FRAME_SAMPLES))
        encoder.close()
    report.duration_s = max(encoder.last_video_ms / 1000, encoder.audio_samples / AUDIO_RATE)
    if report.decode_errors:
        report.notes.append(f"{report.decode_errors} packet(s) did not decode and were skipped")
    if progress is not None:
        progress(total_s, total_s)
    return report


def _check_complete(report: ExportReport, header_duration_us: int | None, read_to_ms: int) -> None:
    """A file the recorder closed has its duration in the header; one cut off by a crash has none (or,
    when a complete file was truncated later, reads short of it). The demuxer just stops at a broken
    cluster, so this is how a partial recording is told apart."""
    if not header_duration_us:
        report.partial = True
        report.notes.append(
            f"the recording was not closed (the server stopped while recording); exported the "
            f"{read_to_ms / 1000:.1f} s that read"
        )
    elif read_to_ms < header_duration_us / 1000 - PARTIAL_SLACK_MS:
        report.partial = True
        report.notes.append(
            f"the recording is cut off at {read_to_ms / 1000:.1f} s of {header_duration_us / 1e6:.1f} s; "
            "exported what reads"
        )


def _frame_ms(frame: av.VideoFrame) -> int:
    if frame.pts is None or frame.time_base is None:
        return 0
    return int(round(float(frame.pts * frame.time_base) * 1000))


def _encode_video(encoder: _Encoder, frame: av.VideoFrame, t_ms: int, replay: Replay | None) -> int:
    """Encode one decoded frame (with the overlay drawn in when there is one); 1 if it was drawn on."""
    width, height = encoder.size
    drawn = 0
    if replay is not None:
        overlay = replay.overlay_at(_frame_ms(frame), (frame.width, frame.height))
        if overlay is not None:
            image = draw_overlay(
                frame.to_ndarray(format="bgr24"),
                overlay.outline_frame_px,
                overlay.annotations,
                target_frame_px=overlay.target_frame_px,
            )
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            drawn = 1
    encoder.video_frame(frame.reformat(width=width, height=height, format="yuv420p"), t_ms)
    return drawn
