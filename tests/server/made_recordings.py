"""Real session recordings made without a network: FakeCamera frames of the board encoded to VP8,
two Opus tones, muxed by the server's own :class:`Recorder` on a simulated arrival clock, and an
event log with the clip's true homographies as ``ar`` summaries.

    python -m tests.server.made_recordings OUT_DIR --seconds 60     # a recording folder for timing exports
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from server.recordings.recorder import Recorder
from tests.clipgen import DATA_DIR, FakeCamera, Motion

VIDEO_TB = Fraction(1, 90000)
AUDIO_TB = Fraction(1, 48000)
BOARD = (
    Path(__file__).resolve().parents[2] / "procedures" / "library" / "board-connector-reseat" / "board.jpg"
)
PROCEDURE_ID = "board-connector-reseat"
AR_INTERVAL_MS = 200


class SimulatedClockRecorder(Recorder):
    """A Recorder whose arrival clock is set by the test, so a clip is muxed faster than real time
    with the timestamps it would have had live."""

    now_ms = 0

    def elapsed_ms(self) -> int:
        return self.now_ms


def board_camera(num_frames: int, size: tuple[int, int] = (640, 480)) -> FakeCamera:
    board = cv2.imread(str(BOARD))
    background = cv2.imread(str(DATA_DIR / "leuvenA.jpg"))
    # Gentle motion: the board stays whole in the picture, so its outline is always there to check.
    motion = Motion(
        width_frac=0.55, depth_swing=0.1, max_roll_deg=10, max_tilt_deg=12, move_x=0.06, move_y=0.05
    )
    return FakeCamera(board, background, num_frames=num_frames, size=size, motion=motion)


def tone(frequency_hz: float, index: int, samples: int = 960) -> np.ndarray:
    t = (np.arange(samples) + index * samples) / 48000
    mono = (0.3 * 32767 * np.sin(2 * np.pi * frequency_hz * t)).astype(np.int16)
    return np.repeat(mono[None, :], 2, axis=0).T.reshape(1, -1)  # packed s16 stereo


def _opus_encoder() -> av.CodecContext:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = AUDIO_TB
    return encoder


def _audio_packets(encoder: av.CodecContext, frequency_hz: float, index: int) -> list[av.Packet]:
    frame = av.AudioFrame.from_ndarray(tone(frequency_hz, index), format="s16", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = 48000, index * 960, AUDIO_TB
    packets = list(encoder.encode(frame))
    for p in packets:
        p.time_base = AUDIO_TB
    return packets


def write_recording(path: Path, camera: FakeCamera, fps: int = 30, start_ms: int = 0) -> float:
    """Mux ``camera``'s frames (at ``fps``) and 20 ms Opus packets of a customer tone (440 Hz) and an
    expert tone (660 Hz) into ``path`` as the live recorder would; returns the duration in s.

    ``start_ms``: when the first video frame arrives after the recording started (the recorder
    opens the file at the first keyframe)."""
    video = av.CodecContext.create("libvpx", "w")
    video.width, video.height = camera.size
    video.pix_fmt, video.time_base, video.bit_rate = "yuv420p", VIDEO_TB, 1_500_000
    video.options = {"deadline": "realtime", "cpu-used": "8"}
    customer, expert = _opus_encoder(), _opus_encoder()
    recorder = SimulatedClockRecorder(path)
    audio_index = 0
    for index in range(camera.num_frames):
        arrival_ms = start_ms + index * 1000 // fps
        frame = av.VideoFrame.from_ndarray(camera.frame(index).bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = index * 90000 // fps, VIDEO_TB
        for packet in video.encode(frame):
            packet.time_base = VIDEO_TB
            recorder.now_ms = arrival_ms
            recorder.write("video", packet)
        while audio_index * 20 <= arrival_ms:
            recorder.now_ms = audio_index * 20
            for packet in _audio_packets(customer, 440, audio_index):
                recorder.write("customer_audio", packet)
            for packet in _audio_packets(expert, 660, audio_index):
                recorder.write("expert_audio", packet)
            audio_index += 1
    return recorder.close()


def ar_events(camera: FakeCamera, fps: int, step_id: str, start_ms: int = 0) -> list[dict[str, Any]]:
    """``ar`` summaries every ``AR_INTERVAL_MS`` with the clip's true homographies."""
    events = []
    for index in range(0, camera.num_frames, fps * AR_INTERVAL_MS // 1000):
        events.append(
            {
                "at": "2026-11-22T10:00:00.000Z",
                "t_ms": start_ms + index * 1000 // fps + 40,
                "type": "ar",
                "frame_t_ms": start_ms + index * 1000 // fps,
                "step_id": step_id,
                "found": True,
                "frame_size": list(camera.size),
                "homography": np.round(camera.homography(index), 6).tolist(),
            }
        )
    return events


def write_events(path: Path, events: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def board_session_events(camera: FakeCamera, fps: int, step_id: str = "find-header") -> list[dict[str, Any]]:
    """A session on board-connector-reseat: step locate, then ``step_id`` from 1 s, ar summaries."""
    base = {"at": "2026-11-22T10:00:00.000Z"}
    head = [
        {**base, "t_ms": None, "type": "join", "role": "customer"},
        {**base, "t_ms": 0, "type": "procedure_chosen", "procedure_id": PROCEDURE_ID, "by": "expert"},
        {**base, "t_ms": 0, "type": "step_changed", "step_id": "locate", "index": 0, "by": "expert"},
        {**base, "t_ms": 1000, "type": "step_changed", "step_id": step_id, "index": 1, "by": "expert"},
    ]
    ars = ar_events(camera, fps, "locate")
    for event in ars:
        if event["frame_t_ms"] >= 1000:
            event["step_id"] = step_id
    return sorted(head + ars, key=lambda e: e["t_ms"] or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    fps = 30
    camera = board_camera(args.seconds * fps)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    duration = write_recording(args.out_dir / "recording.webm", camera, fps)
    write_events(args.out_dir / "events.jsonl", board_session_events(camera, fps))
    print(f"{args.out_dir}: {duration:.1f} s")


if __name__ == "__main__":
    main()
