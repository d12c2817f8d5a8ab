"""Both voices in the recording's default audio track, so every player plays them.

The recorder muxes the customer's and the expert's voices as two Opus tracks, as they arrived
(crash-safe, no decoding while the call goes on). Browsers play only a file's default (first) audio
track, so a trainer heard the customer alone. Once a recording is finished, :func:`add_both_voices`
rewrites it with a third track first, "both voices" (the two mixed, Opus, the default track), and
keeps the separate tracks after it for search and analysis. Video and the separate tracks are copied
as they are (no re-encoding); only audio is decoded and mixed. The new file is written beside the
old one and renamed over it, so a reader never sees half a file and a crash leaves the old one.

Blocking and CPU-bound (about 1 s per 10 min of audio here): run it in a worker thread.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.resampler import AudioResampler

from .audio_mix import AUDIO_RATE, MIX_LAG_MS, AudioMix
from .jobs import InChildProcess

logger = logging.getLogger(__name__)

MIXED_TITLE = "both voices"
OPUS_FRAME_SAMPLES = 960  # 20 ms at 48 kHz
MS = Fraction(1, 1000)


@dataclass(frozen=True)
class MixReport:
    mixed: bool
    reason: str = ""
    voices: int = 0


def audio_titles(path: Path) -> list[str]:
    """The titles of a recording's audio tracks, in file order (the first is the default)."""
    with av.open(str(path)) as container:
        return [s.metadata.get("title", "") for s in container.streams.audio]


def has_both_voices(path: Path) -> bool:
    try:
        titles = audio_titles(path)
    except (av.FFmpegError, OSError):
        return False
    return bool(titles) and titles[0] == MIXED_TITLE


def mix_voices_job(path: Path) -> InChildProcess[MixReport]:
    """:func:`add_both_voices` of ``path`` as a file job, in a child process: PyAV decodes and encodes
    there, so a codec's crash costs the mix (the separate tracks stay), not the server."""
    return InChildProcess(add_both_voices, path)


def add_both_voices(path: Path) -> MixReport:
    """Rewrite ``path`` (a finished recording) with the mixed "both voices" track first; nothing to do
    when it has it already or has fewer than two voices."""
    try:
        with av.open(str(path)) as source:
            voices = [s for s in source.streams.audio if s.metadata.get("title", "") != MIXED_TITLE]
            if len(source.streams.audio) > len(voices):
                return MixReport(False, "the recording has both voices already", len(voices))
            if len(voices) < 2 or not source.streams.video:
                return MixReport(False, "the recording has no two voices to mix", len(voices))
            tmp = path.with_name(f".{path.name}.{os.getpid()}.mixing")
            try:
                _rewrite(source, tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
    except av.FFmpegError as exc:
        logger.warning("%s: both voices not mixed (%s); the separate tracks stay", path, exc)
        return MixReport(False, f"the recording could not be read: {exc}")
    return MixReport(True, voices=2)


def _rewrite(source: av.container.InputContainer, out_path: Path) -> None:
    video_in = source.streams.video[0]
    voices = list(source.streams.audio)
    with av.open(str(out_path), "w", format="webm") as out:
        video_out = out.add_stream_from_template(video_in)
        mixed = out.add_stream("libopus", rate=AUDIO_RATE, layout="stereo")
        mixed.time_base = Fraction(1, AUDIO_RATE)
        mixed.metadata["title"] = MIXED_TITLE
        mixed.disposition = av.stream.Disposition.default
        copies = {}
        for voice in voices:
            copy = out.add_stream_from_template(voice)
            copy.metadata["title"] = voice.metadata.get("title", "")
            copy.disposition = av.stream.Disposition(0)
            copies[voice.index] = copy
        video_out.metadata["title"] = video_in.metadata.get("title", "customer video")
        outputs = {video_in.index: video_out, **copies}
        resamplers = {
            v.index: AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE) for v in voices
        }
        mix = AudioMix()
        encoded_samples = 0
        position_ms = 0

        def encode_upto(sample: int) -> None:
            nonlocal encoded_samples
            samples = mix.take(sample, OPUS_FRAME_SAMPLES)
            for start in range(0, samples.shape[1], OPUS_FRAME_SAMPLES):
                chunk = np.ascontiguousarray(samples[:, start : start + OPUS_FRAME_SAMPLES])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate = AUDIO_RATE
                frame.pts, frame.time_base = encoded_samples, Fraction(1, AUDIO_RATE)
                encoded_samples += chunk.shape[1]
                out.mux(mixed.encode(frame))

        for packet in source.demux(video_in, *voices):
            if packet.dts is None:
                continue  # the demuxer's flush packet
            if packet.pts is not None and packet.time_base is not None:
                position_ms = max(position_ms, int(packet.pts * packet.time_base * 1000))
            if packet.stream.type == "audio":
                _mix_in(packet, resamplers[packet.stream.index], mix)
            packet.stream = outputs[packet.stream.index]
            out.mux(packet)
            encode_upto((position_ms - MIX_LAG_MS) * AUDIO_RATE // 1000)
        encode_upto(mix.written_end + OPUS_FRAME_SAMPLES - 1)
        out.mux(mixed.encode(None))


def _mix_in(packet: av.Packet, resampler: AudioResampler, mix: AudioMix) -> None:
    try:
        frames = packet.decode()
    except av.FFmpegError:
        return  # a damaged packet: silence there in the mix; the copy keeps it as it was
    for frame in frames:
        if not isinstance(frame, av.AudioFrame) or frame.pts is None or frame.time_base is None:
            continue
        start = round(float(frame.pts * frame.time_base) * AUDIO_RATE)
        for resampled in resampler.resample(frame):
            mix.add(start, resampled.to_ndarray().astype(np.float32))
            start += resampled.samples
