"""The demo customer's camera (``server/live/demo/clip.py``): frames that move, the same on every
call, with the device where the clip says it is, so vision finds it there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from procedures import ProcedureLibrary
from server.live.demo.clip import FRAME_SIZE_PX, DemoClip, DemoMotion
from vision.pipeline import ARPipeline

LIBRARY = ProcedureLibrary.with_builtin()
PROCEDURE_IDS = sorted(LIBRARY.procedures)


def clip_of(procedure_id: str) -> DemoClip:
    procedure = LIBRARY.get(procedure_id)
    assert procedure is not None
    return DemoClip(procedure.reference_bgr())


def corners_at(clip: DemoClip, index: int) -> np.ndarray:
    w, h = clip.reference_size_px
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(corners, clip.homography(index)).reshape(4, 2)


def test_frames_are_the_size_aiortc_sends() -> None:
    frame = clip_of("board-connector-reseat").frame(0)
    assert frame.shape == (FRAME_SIZE_PX[1], FRAME_SIZE_PX[0], 3) and frame.dtype == np.uint8


def test_the_same_frame_on_every_call_and_every_clip() -> None:
    first, second = clip_of("board-connector-reseat"), clip_of("board-connector-reseat")
    for index in (0, 17, 123):
        assert np.array_equal(first.frame(index), second.frame(index))
        assert np.array_equal(first.frame(index), first.frame(index))


def test_the_device_moves_smoothly_and_the_clip_loops() -> None:
    clip = clip_of("board-connector-reseat")
    steps = [np.abs(corners_at(clip, i + 1) - corners_at(clip, i)).max() for i in range(clip.period_frames)]
    assert min(steps) >= 0.0 and max(steps) < 4.0, "a jump between two frames"
    spread = np.ptp(np.array([corners_at(clip, i) for i in range(0, clip.period_frames, 10)]), axis=0)
    assert spread.max() > 40, "the device hardly moves over the clip"
    # Pixels change too, and frame ``period`` is frame 0 again (no jump when it loops).
    assert np.abs(clip.frame(0).astype(int) - clip.frame(30).astype(int)).mean() > 5
    assert np.array_equal(clip.frame(0), clip.frame(clip.period_frames))


@pytest.mark.parametrize("procedure_id", PROCEDURE_IDS)
def test_the_device_stays_in_the_frame(procedure_id: str) -> None:
    clip = clip_of(procedure_id)
    width, height = FRAME_SIZE_PX
    for index in range(0, clip.period_frames, 5):
        corners = corners_at(clip, index)
        assert (corners >= 0).all() and (corners[:, 0] < width).all() and (corners[:, 1] < height).all()


@pytest.mark.parametrize("procedure_id", PROCEDURE_IDS)
def test_vision_finds_the_device_where_the_clip_put_it(procedure_id: str) -> None:
    """The point of the demo: the session's own vision locates the device in these frames."""
    procedure = LIBRARY.get(procedure_id)
    assert procedure is not None
    clip = DemoClip(procedure.reference_bgr())
    pipeline = ARPipeline(procedure.pipeline_options(hands=False))
    errors = []
    for n, index in enumerate(range(0, clip.period_frames, 12)):
        state = pipeline.process(clip.frame(index), timestamp_ms=1000 + n * 400, look_for_hands=False)
        assert state.found, f"frame {index}: {state.reason}"
        assert state.outline_frame_px is not None
        errors.append(float(np.linalg.norm(state.outline_frame_px - corners_at(clip, index), axis=1).max()))
    assert max(errors) < 3.0, f"outline off by up to {max(errors):.2f} px"


def test_a_reference_that_is_not_a_colour_image_is_refused() -> None:
    with pytest.raises(ValueError, match="BGR"):
        DemoClip(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="period_frames"):
        DemoMotion(period_frames=1)
