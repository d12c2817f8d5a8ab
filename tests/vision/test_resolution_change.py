"""A weak link makes the phone send a smaller video mid-session (``client_web/js/link-adapt.js`` steps
720p down to 480, 360 and 240 lines and back): one pipeline follows the device through every change
of size, its results in the pixels of the frame that came."""

from __future__ import annotations

import cv2
import numpy as np

from tests.clipgen import FakeCamera, Motion
from tests.vision.conftest import CORNER_P95_TOLERANCE_PX, corner_errors, image, timestamp_ms
from vision.pipeline import ARPipeline, PipelineOptions

# The sizes a 1280x720 phone sends through the page's levels, in the order a weak link and its
# recovery bring them; each for FRAMES_EACH frames.
SIZES = [(1280, 720), (854, 480), (426, 240), (640, 360), (1280, 720)]
FRAMES_EACH = 12
# The server locates on a copy at most this wide (``serve --vision-width``'s default).
VISION_WIDTH_PX = 640
# Frames a new size may take to be found again (the tracker starts afresh on a new size).
REFIND_FRAMES = 3


def scaled_truth(corners: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Corners in a resized copy's pixels (pixel centres kept, as cv2.resize and browsers scale)."""
    scale = np.array(to_size, np.float64) / np.array(from_size, np.float64)
    return (np.asarray(corners, np.float64) + 0.5) * scale - 0.5


def test_the_device_is_followed_through_every_change_of_the_videos_size() -> None:
    camera = FakeCamera(
        image("board.jpg"),
        image("leuvenA.jpg"),
        size=SIZES[0],
        num_frames=len(SIZES) * FRAMES_EACH,
        motion=Motion(),
    )
    options = PipelineOptions(reference=image("board.jpg"), hands=False, max_width_px=VISION_WIDTH_PX)
    errors: dict[tuple[int, int], list[float]] = {}
    missed: list[tuple[int, tuple[int, int]]] = []
    with ARPipeline(options) as pipeline:
        for index in range(len(SIZES) * FRAMES_EACH):
            size = SIZES[index // FRAMES_EACH]
            clip_frame = camera.frame(index)
            frame = cv2.resize(clip_frame.bgr, size, interpolation=cv2.INTER_AREA)
            state = pipeline.process(frame, timestamp_ms(index))
            assert state.frame_size == size
            if not state.found or state.outline_frame_px is None:
                missed.append((index, size))
                continue
            truth = scaled_truth(clip_frame.corners_frame_px, SIZES[0], size)
            errors.setdefault(size, []).append(float(corner_errors(state.outline_frame_px, truth).max()))
    for size, found in errors.items():
        print(
            f"{size[0]}x{size[1]}: found on {len(found)} frames, "
            f"worst-corner error p95 {np.percentile(found, 95):.2f} px"
        )
    assert all(index % FRAMES_EACH < REFIND_FRAMES for index, _size in missed), f"not found: {missed}"
    for size, found in errors.items():
        assert len(found) >= FRAMES_EACH - REFIND_FRAMES, (size, len(found))
        # Located on a copy VISION_WIDTH_PX wide: a pixel there is more than one in a wider frame.
        tolerance_px = CORNER_P95_TOLERANCE_PX * max(1.0, size[0] / VISION_WIDTH_PX)
        assert np.percentile(found, 95) <= tolerance_px, (size, found)
