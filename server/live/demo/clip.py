"""The demo customer's camera: a procedure's reference moving over a table, rendered frame by frame.

Frame ``n`` is a pure function of the reference image and ``n`` (no clock, no randomness that is not
seeded, no file but the procedure's own reference), so the demo looks the same on every server and
its tests can check exact pixels. The reference moves as a hand-held phone sees a device lying on a
table: it drifts, turns a little, tilts and comes closer and further, periodically, so the clip loops
without a jump. :meth:`DemoClip.homography` is the exact reference px -> frame px mapping of a
frame (OpenCV convention: x right, y down, the centre of the top-left pixel is (0, 0)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# The picture an aiortc VP8 sender encodes (the size a phone's camera page asks for).
FRAME_SIZE_PX = (640, 480)
FPS = 30
LABEL = "SAMPLE CLIP"


@dataclass(frozen=True)
class DemoMotion:
    """How the device moves: gentle, as a steady hand holds a phone over it."""

    width_frac: float = 0.6  # reference width / frame width at mean distance, untilted
    depth_swing: float = 0.12  # relative change of distance
    max_roll_deg: float = 10.0
    max_tilt_deg: float = 15.0
    move_x_frac: float = 0.08  # horizontal travel, fraction of the frame width
    move_y_frac: float = 0.06
    period_frames: int = 8 * FPS  # one loop of the clip

    def __post_init__(self) -> None:
        if self.period_frames < 2:
            raise ValueError("period_frames must be at least 2")
        if not 0 < self.width_frac <= 1:
            raise ValueError("width_frac must be in (0, 1]")


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Rz(roll) @ Ry(yaw) @ Rx(pitch), angles in radians."""
    cx, sx = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cz, sz = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def homography_at(
    t: float, frame_size_px: tuple[int, int], object_size_px: tuple[int, int], motion: DemoMotion
) -> np.ndarray:
    """Homography object px -> frame px at normalised time ``t`` in [0, 1): a pinhole camera
    (focal length = frame width) over the object's plane, moved smoothly and periodically."""
    frame_w, frame_h = frame_size_px
    obj_w, obj_h = object_size_px
    focal = float(frame_w)
    k = np.array([[focal, 0, (frame_w - 1) / 2], [0, focal, (frame_h - 1) / 2], [0, 0, 1]])
    s = 1.0 / obj_w
    obj_to_plane = np.array([[s, 0, -(obj_w - 1) / 2 * s], [0, s, -(obj_h - 1) / 2 * s], [0, 0, 1]])
    tau = 2 * math.pi * t
    # Fit the object's height too: a tall reference must not leave the frame.
    width_frac = min(motion.width_frac, 0.7 * frame_h * obj_w / (obj_h * frame_w))
    base_depth = focal / (width_frac * frame_w)
    cx = frame_w / 2 + motion.move_x_frac * frame_w * math.sin(tau)
    cy = frame_h / 2 + motion.move_y_frac * frame_h * math.sin(2 * tau)
    tilt = math.radians(motion.max_tilt_deg)
    r = _rotation(
        0.8 * tilt * math.sin(2 * tau),
        tilt * math.sin(tau + math.pi / 3),
        math.radians(motion.max_roll_deg) * math.sin(tau),
    )
    depth = base_depth * (1 + motion.depth_swing * math.sin(tau + math.pi / 2))
    tvec = np.array([(cx - k[0, 2]) * depth / focal, (cy - k[1, 2]) * depth / focal, depth])
    h = k @ np.column_stack([r[:, 0], r[:, 1], tvec]) @ obj_to_plane
    return np.asarray(h / h[2, 2], dtype=np.float64)


def table_background(size_px: tuple[int, int], seed: int = 14) -> np.ndarray:
    """A plain, softly textured table top (BGR): something for the eye, little for feature matching
    (its texture is blurred), so what vision finds is the device."""
    width, height = size_px
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1.0, 1.0, (height // 16 + 1, width // 16 + 1)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = cv2.GaussianBlur(texture, (0, 0), 6.0)
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    shade = 1.0 - 0.18 * rows + 0.06 * texture  # lighter far away, darker near the phone
    base = np.array([150, 168, 182], np.float32)  # a light grey-beige table (BGR)
    return np.clip(base[None, None, :] * shade[..., None], 0, 255).astype(np.uint8)


class DemoClip:
    """Renders the demo customer's camera from a reference image; frame ``n`` is the same on every
    call and on every server."""

    def __init__(
        self,
        reference_bgr: np.ndarray,
        *,
        size_px: tuple[int, int] = FRAME_SIZE_PX,
        motion: DemoMotion | None = None,
        label: str = LABEL,
    ) -> None:
        if reference_bgr.ndim != 3 or reference_bgr.shape[2] != 3:
            raise ValueError("the reference must be a BGR image (height x width x 3)")
        self.size_px = size_px
        self.motion = motion or DemoMotion()
        self.label = label
        ref_h, ref_w = reference_bgr.shape[:2]
        self.reference_size_px = (ref_w, ref_h)
        self.background = table_background(size_px)
        # The reference is drawn at most ~1.5x the size it has in the frame: shrunk once, with
        # area averaging, so fine print (marker borders) does not alias when the frame is warped.
        largest_on_frame = self.motion.width_frac * (1 + self.motion.depth_swing) * size_px[0] * 1.5
        self._scale = min(1.0, largest_on_frame / ref_w)
        if self._scale < 1.0:
            drawn = cv2.resize(
                reference_bgr,
                (max(1, round(ref_w * self._scale)), max(1, round(ref_h * self._scale))),
                interpolation=cv2.INTER_AREA,
            )
        else:
            drawn = np.ascontiguousarray(reference_bgr)
        self._drawn = drawn
        drawn_h, drawn_w = drawn.shape[:2]
        # reference px -> drawn px (pixel centres stay centres)
        sx, sy = drawn_w / ref_w, drawn_h / ref_h
        self._to_drawn = np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2], [0, 0, 1]])

    @property
    def period_frames(self) -> int:
        return self.motion.period_frames

    def homography(self, index: int) -> np.ndarray:
        """Reference px -> frame px of frame ``index``."""
        t = (index % self.motion.period_frames) / self.motion.period_frames
        return homography_at(t, self.size_px, self.reference_size_px, self.motion)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as BGR pixels (height x width x 3, uint8)."""
        h_drawn = self.homography(index) @ np.linalg.inv(self._to_drawn)
        out = self.background.copy()
        cv2.warpPerspective(
            self._drawn,
            h_drawn,
            self.size_px,
            dst=out,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_TRANSPARENT,
        )
        if self.label:
            cv2.putText(
                out, self.label, (12, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (40, 40, 40), 2, cv2.LINE_AA
            )
        return out
