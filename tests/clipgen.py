"""Fake-camera clips with exact ground truth, for tests and benchmarks.

A planar object image (a device photo, a marker sheet) moves smoothly in perspective over a
real background photo. For each frame we know the exact homography ``H`` that maps object
pixels to frame pixels (OpenCV convention: x right, y down, the centre of the top-left pixel
is (0, 0)), because the frame is drawn with ``cv2.warpPerspective(object, H, size)``.

Each frame can also carry its own number in its pixels (``frame_code``): a row of
black/white 16x16 cells along the bottom-left edge, large enough to survive VP8 at low
bitrate. Receivers read it back with :func:`read_frame_number` to match a received picture
to the frame that was sent (pixel checks in end-to-end tests, latency in benchmarks).

Clips are written as YUV4MPEG2 4:2:0 (``.y4m``), which Chromium plays as a fake webcam
(``--use-file-for-fake-video-capture``), with a JSON of the per-frame ground truth beside.
The motion is periodic over the clip, so a looping player shows no jump.

    python -m tests.clipgen --object tests/data/board.jpg --background tests/data/leuvenA.jpg \\
        --out /tmp/board.y4m --seconds 6
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"

FRAME_CODE_BITS = 16
FRAME_CODE_CELL_PX = 16


def stamp_frame_number(frame_bgr: np.ndarray, number: int) -> None:
    """Draw ``number`` as a row of black/white cells on the bottom-left edge, in place.

    The row starts with a white-black guard pair, so a reader can tell a coded frame from
    one without a code.
    """
    height = frame_bgr.shape[0]
    bits = [1, 0] + [(number >> i) & 1 for i in range(FRAME_CODE_BITS)]
    top = height - FRAME_CODE_CELL_PX
    for index, bit in enumerate(bits):
        left = index * FRAME_CODE_CELL_PX
        frame_bgr[top:, left : left + FRAME_CODE_CELL_PX] = 255 if bit else 0


def read_frame_number(frame: np.ndarray) -> int | None:
    """Read the number :func:`stamp_frame_number` drew; None when there is no code.

    ``frame`` may be BGR or a single luma plane, at the size it was drawn at.
    """
    luma = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    height = luma.shape[0]
    cell = FRAME_CODE_CELL_PX
    centre_top = height - cell + cell // 4
    values = []
    for index in range(FRAME_CODE_BITS + 2):
        left = index * cell + cell // 4
        values.append(float(luma[centre_top : centre_top + cell // 2, left : left + cell // 2].mean()))
    if values[0] < 160 or values[1] > 96:
        return None
    number = 0
    for i, value in enumerate(values[2:]):
        if 96 <= value <= 160:
            return None
        if value > 160:
            number |= 1 << i
    return number


def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Rz(roll) @ Ry(yaw) @ Rx(pitch), angles in radians."""
    cx, sx = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cz, sz = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class Motion:
    """How the object moves: amplitudes of a smooth, periodic trajectory."""

    width_frac: float = 0.5  # object width / frame width at mean distance, untilted
    depth_swing: float = 0.25  # relative change of distance
    max_roll_deg: float = 25.0
    max_tilt_deg: float = 30.0
    move_x: float = 0.15  # horizontal travel, fraction of the frame width
    move_y: float = 0.10
    seed: int = 0  # 0 = reference phases; others shift them


def homography_at(
    t: float, frame_size: tuple[int, int], object_size: tuple[int, int], motion: Motion
) -> np.ndarray:
    """Homography object pixels -> frame pixels at normalised time ``t`` in [0, 1)."""
    frame_w, frame_h = frame_size
    obj_w, obj_h = object_size
    focal = float(frame_w)
    k = np.array([[focal, 0, (frame_w - 1) / 2], [0, focal, (frame_h - 1) / 2], [0, 0, 1]])
    s = 1.0 / obj_w
    obj_to_plane = np.array([[s, 0, -(obj_w - 1) / 2 * s], [0, s, -(obj_h - 1) / 2 * s], [0, 0, 1]])
    phase = np.random.default_rng(motion.seed).uniform(0, 2 * math.pi, 6) if motion.seed else np.zeros(6)
    tau = 2 * math.pi * t
    base_depth = focal / (motion.width_frac * frame_w)
    cx = frame_w / 2 + motion.move_x * frame_w * math.sin(tau + phase[0])
    cy = frame_h / 2 + motion.move_y * frame_h * math.sin(2 * tau + phase[1])
    tilt = math.radians(motion.max_tilt_deg)
    r = rotation(
        0.8 * tilt * math.sin(2 * tau + phase[4]),
        tilt * math.sin(tau + phase[3] + math.pi / 3),
        math.radians(motion.max_roll_deg) * math.sin(tau + phase[2]),
    )
    depth = base_depth * (1 + motion.depth_swing * math.sin(tau + phase[5] + math.pi / 2))
    tvec = np.array([(cx - k[0, 2]) * depth / focal, (cy - k[1, 2]) * depth / focal, depth])
    h = k @ np.column_stack([r[:, 0], r[:, 1], tvec]) @ obj_to_plane
    return h / h[2, 2]


def cover_resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale so the image covers width x height, then centre-crop."""
    h, w = img.shape[:2]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    resized = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    return resized[y0 : y0 + height, x0 : x0 + width].copy()


def object_corners(obj_w: int, obj_h: int) -> np.ndarray:
    """The object's TL, TR, BR, BL pixel centres."""
    return np.array([[0, 0], [obj_w - 1, 0], [obj_w - 1, obj_h - 1], [0, obj_h - 1]], dtype=np.float64)


@dataclass(frozen=True)
class ClipFrame:
    index: int
    bgr: np.ndarray
    homography: np.ndarray  # object px -> frame px
    corners_frame_px: np.ndarray  # 4x2, TL TR BR BL


class FakeCamera:
    """Renders the frames of one clip; frame ``n`` is the same on every call."""

    def __init__(
        self,
        object_bgr: np.ndarray,
        background_bgr: np.ndarray,
        *,
        num_frames: int = 180,
        size: tuple[int, int] = (640, 480),
        motion: Motion | None = None,
        frame_code: bool = False,
    ) -> None:
        self.object_bgr = object_bgr
        self.size = size
        self.num_frames = num_frames
        self.motion = motion or Motion()
        self.frame_code = frame_code
        self.background = cover_resize(background_bgr, *size).astype(np.float32)
        obj_h, obj_w = object_bgr.shape[:2]
        self.object_size = (obj_w, obj_h)
        self._mask = np.ones((obj_h, obj_w), np.float32)

    def homography(self, index: int) -> np.ndarray:
        return homography_at(
            (index % self.num_frames) / self.num_frames, self.size, self.object_size, self.motion
        )

    def frame(self, index: int) -> ClipFrame:
        h = self.homography(index)
        width, height = self.size
        warped = cv2.warpPerspective(self.object_bgr, h, (width, height), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(self._mask, h, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        blended = self.background * (1 - mask) + warped.astype(np.float32) * mask
        bgr = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        if self.frame_code:
            stamp_frame_number(bgr, index % self.num_frames)
        corners = cv2.perspectiveTransform(object_corners(*self.object_size).reshape(-1, 1, 2), h).reshape(
            4, 2
        )
        return ClipFrame(index, bgr, h, corners)

    def frames(self) -> Iterator[ClipFrame]:
        for index in range(self.num_frames):
            yield self.frame(index)


def write_clip(camera: FakeCamera, y4m_path: Path, fps: int = 30) -> Path:
    """Write the clip as 4:2:0 y4m and its ground truth as JSON beside it; returns the JSON path."""
    width, height = camera.size
    truth = []
    with open(y4m_path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for clip_frame in camera.frames():
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(clip_frame.bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
            truth.append(
                {
                    "index": clip_frame.index,
                    "H": clip_frame.homography.tolist(),
                    "corners": clip_frame.corners_frame_px.round(4).tolist(),
                }
            )
    json_path = y4m_path.with_suffix(".json")
    json_path.write_text(
        json.dumps(
            {
                "width": width,
                "height": height,
                "fps": fps,
                "num_frames": camera.num_frames,
                "frame_code": camera.frame_code,
                "frames": truth,
            }
        )
    )
    return json_path


def read_y4m(path: Path) -> Iterator[np.ndarray]:
    """Yield the BGR frames of a 4:2:0 y4m file written by :func:`write_clip`."""
    with open(path, "rb") as src:
        header = src.readline().split()
        width = int(next(p[1:] for p in header if p.startswith(b"W")))
        height = int(next(p[1:] for p in header if p.startswith(b"H")))
        frame_bytes = width * height * 3 // 2
        while src.readline().startswith(b"FRAME"):
            data = src.read(frame_bytes)
            if len(data) < frame_bytes:
                return
            yuv = np.frombuffer(data, np.uint8).reshape(height * 3 // 2, width)
            yield cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)


def load_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read image: {path}")
    return img


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a fake-camera .y4m clip with exact ground truth.")
    parser.add_argument("--object", type=Path, required=True)
    parser.add_argument("--background", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frame-code", action="store_true", help="draw each frame's number in its pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    camera = FakeCamera(
        load_image(args.object),
        load_image(args.background),
        num_frames=round(args.seconds * args.fps),
        size=(args.width, args.height),
        motion=Motion(seed=args.seed),
        frame_code=args.frame_code,
    )
    json_path = write_clip(camera, args.out, args.fps)
    print(f"wrote {args.out} and {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
