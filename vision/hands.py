"""Hand landmarks with MediaPipe Tasks ``HandLandmarker`` in VIDEO mode.

VIDEO mode tracks hands between frames (the palm detector does not run on every frame) and
requires increasing timestamps; we check that ourselves first so the error says what to do.
Measured here at 640x480 with one hand: 12 ms per frame with the full landmark model, 6.8 ms
with the lite one; the call releases the GIL. Handedness is the person's own hand ("Left" is
their left hand in an unmirrored picture), as Tasks reports it.

The model bundle is built at install time (scripts/build_hand_model.py) and found by
:func:`resolve_model_path`. mediapipe is imported only when a :class:`HandTracker` is made, so
the rest of vision works without it or without the model.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.types import FloatArray, ImageArray

MODEL_ENV_VAR = "REPAIRSIGHT_HAND_MODEL"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO_ROOT / "models" / "hand_landmarker.task"
LITE_MODEL = REPO_ROOT / "models" / "hand_landmarker_lite.task"


class HandLandmark(enum.IntEnum):
    """The 21 landmarks of MediaPipe's hand model, by index."""

    WRIST = 0
    THUMB_CMC = 1
    THUMB_MCP = 2
    THUMB_IP = 3
    THUMB_TIP = 4
    INDEX_FINGER_MCP = 5
    INDEX_FINGER_PIP = 6
    INDEX_FINGER_DIP = 7
    INDEX_FINGER_TIP = 8
    MIDDLE_FINGER_MCP = 9
    MIDDLE_FINGER_PIP = 10
    MIDDLE_FINGER_DIP = 11
    MIDDLE_FINGER_TIP = 12
    RING_FINGER_MCP = 13
    RING_FINGER_PIP = 14
    RING_FINGER_DIP = 15
    RING_FINGER_TIP = 16
    PINKY_MCP = 17
    PINKY_PIP = 18
    PINKY_DIP = 19
    PINKY_TIP = 20


class HandModelMissingError(FileNotFoundError):
    """The hand landmarker bundle is not where the settings say."""


@dataclass(frozen=True)
class HandsOptions:
    """``model_path`` None means: ``$REPAIRSIGHT_HAND_MODEL``, else ``models/hand_landmarker.task``
    (or ``hand_landmarker_lite.task`` when ``lite``)."""

    model_path: Path | None = None
    lite: bool = False
    num_hands: int = 2
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.num_hands <= 4:
            raise ValueError(f"num_hands must be 1..4, got {self.num_hands}")


def resolve_model_path(options: HandsOptions) -> Path:
    """The bundle to load, or :class:`HandModelMissingError` saying how to build it."""
    if options.model_path is not None:
        path = Path(options.model_path)
    elif os.environ.get(MODEL_ENV_VAR):
        path = Path(os.environ[MODEL_ENV_VAR])
    else:
        path = LITE_MODEL if options.lite else DEFAULT_MODEL
    if not path.is_file():
        raise HandModelMissingError(
            f"hand landmark model not found at {path}. Build it with `scripts/install.sh` "
            f"(or `python scripts/build_hand_model.py`), "
            f"or point {MODEL_ENV_VAR} at a hand_landmarker.task file."
        )
    return path


@dataclass(frozen=True)
class Hand:
    """One hand: 21 landmarks in frame pixels (x right, y down), the person's own handedness, score."""

    handedness: str
    score: float
    landmarks_frame_px: FloatArray

    @property
    def index_tip_frame_px(self) -> FloatArray:
        return self.landmarks_frame_px[HandLandmark.INDEX_FINGER_TIP]

    def to_dict(self) -> dict[str, Any]:
        return {
            "handedness": self.handedness,
            "score": round(self.score, 4),
            "landmarks_frame_px": np.round(self.landmarks_frame_px, 2).tolist(),
        }


class HandTracker:
    """A VIDEO-mode landmarker for one stream. Not thread-safe; close it (or use ``with``) when done."""

    def __init__(self, options: HandsOptions | None = None) -> None:
        self.options = options or HandsOptions()
        self.model_path = resolve_model_path(self.options)
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import hand_landmarker
        from mediapipe.tasks.python.vision.core import image as mp_image
        from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

        self._mp_image = mp_image
        opts = self.options
        self._landmarker = hand_landmarker.HandLandmarker.create_from_options(
            hand_landmarker.HandLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(self.model_path)),
                running_mode=VisionTaskRunningMode.VIDEO,
                num_hands=opts.num_hands,
                min_hand_detection_confidence=opts.min_detection_confidence,
                min_hand_presence_confidence=opts.min_presence_confidence,
                min_tracking_confidence=opts.min_tracking_confidence,
            )
        )
        self._last_timestamp_ms: int | None = None

    def detect(self, frame_bgr: ImageArray, timestamp_ms: int) -> list[Hand]:
        """Hands in this frame. ``timestamp_ms`` must increase from call to call."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected a uint8 BGR frame, got shape {frame_bgr.shape} {frame_bgr.dtype}")
        return self.detect_rgb(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB), timestamp_ms)

    def detect_rgb(
        self, frame_rgb: ImageArray, timestamp_ms: int, frame_size: tuple[int, int] | None = None
    ) -> list[Hand]:
        """Hands in an RGB frame (what the model takes: no conversion). ``timestamp_ms`` must increase.

        ``frame_size``: give the landmarks in pixels of a frame this size (width, height), when
        ``frame_rgb`` is a smaller copy of it; its own size by default.
        """
        if self._last_timestamp_ms is not None and timestamp_ms <= self._last_timestamp_ms:
            raise ValueError(
                f"timestamp_ms {timestamp_ms} is not after the previous frame's {self._last_timestamp_ms}; "
                "hand tracking needs increasing frame times (make a new HandTracker for a new stream)"
            )
        self._last_timestamp_ms = timestamp_ms
        image = self._mp_image.Image(
            image_format=self._mp_image.ImageFormat.SRGB, data=np.ascontiguousarray(frame_rgb)
        )
        result = self._landmarker.detect_for_video(image, timestamp_ms)
        width, height = frame_size or (frame_rgb.shape[1], frame_rgb.shape[0])
        return hands_from_result(result, width, height)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> HandTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hands_from_result(result: Any, width: int, height: int) -> list[Hand]:
    """Convert a ``HandLandmarkerResult`` (normalised coordinates) to :class:`Hand` records in pixels.

    Normalised x is the fraction of the image width from its left edge, so the pixel-centre
    coordinate is ``x * width - 0.5``.
    """
    hands = []
    for categories, landmarks in zip(result.handedness, result.hand_landmarks, strict=True):
        best = max(categories, key=lambda c: c.score)
        points = np.array([[lm.x * width - 0.5, lm.y * height - 0.5] for lm in landmarks], dtype=np.float64)
        hands.append(
            Hand(handedness=str(best.category_name), score=float(best.score), landmarks_frame_px=points)
        )
    return hands
