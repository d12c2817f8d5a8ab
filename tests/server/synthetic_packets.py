"""Real encoded packets made without a network (libvpx VP8, libopus), and a recording muxed from them
by the server's own :class:`Recorder`: for tests of the recorder and of what reads recordings."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from server.recordings.recorder import Recorder

VIDEO_TB = Fraction(1, 90000)
AUDIO_TB = Fraction(1, 48000)


def vp8_packets(count: int, width: int = 320, height: int = 240) -> list[av.Packet]:
    """Real VP8 packets: a moving gradient encoded by libvpx, 30 fps, RTP clock."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = VIDEO_TB
    encoder.bit_rate = 400_000
    packets = []
    for i in range(count):
        image = np.full((height, width, 3), (i * 7) % 255, np.uint8)
        image[:, : (i * 5) % width] = 30
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, VIDEO_TB
        packets += list(encoder.encode(frame))
    packets += list(encoder.encode(None))
    for p in packets:
        p.time_base = VIDEO_TB
    return packets


def opus_packets(count: int) -> list[av.Packet]:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = AUDIO_TB
    packets = []
    for i in range(count):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 960 * 2), np.int16), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, AUDIO_TB
        packets += list(encoder.encode(frame))
    for p in packets:
        p.time_base = AUDIO_TB
    return packets


def record(path: Path, video: list[av.Packet], audio: list[av.Packet], realtime: bool = False) -> Recorder:
    recorder = Recorder(path)
    for i, packet in enumerate(video):
        recorder.write("video", packet)
        for a in audio[i * 3 // 2 : (i + 1) * 3 // 2]:
            recorder.write("customer_audio", a)
        if realtime:
            time.sleep(1 / 30)
    return recorder


def vp8_frames_of(images_bgr: list[np.ndarray], keyframe_every: int = 0) -> list[tuple[bytes, bool]]:
    """Each picture VP8-encoded as a phone would send it (realtime libvpx): (data, is keyframe).
    ``keyframe_every``: force a keyframe this often (0: only the first)."""
    height, width = images_bgr[0].shape[:2]
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = VIDEO_TB
    encoder.bit_rate = 1_500_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    frames = []
    for index, image in enumerate(images_bgr):
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = index * 3000, VIDEO_TB
        if keyframe_every and index % keyframe_every == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in encoder.encode(frame):
            frames.append((bytes(packet), bool(packet.is_keyframe)))
    return frames
