"""ARPipeline: one object per session, frames in time order, plain JSON out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.vision.conftest import CORNER_P95_TOLERANCE_PX, corner_errors, image, make_clip, timestamp_ms
from tests.vision.test_hands import needs_model
from vision.annotations import Rect
from vision.markers import repair_mat_layout
from vision.pipeline import ARPipeline, PipelineOptions
from vision.steps import TouchRule, VisibleRule

PIPELINE_FRAMES = 45


def test_pipeline_projects_annotations_onto_the_device() -> None:
    clip = make_clip("board_over_leuven")
    rect = Rect(((120, 80), (260, 150)), "J3 connector")
    options = PipelineOptions(
        reference=clip.reference, hands=False, annotations=(rect,), step=VisibleRule(500)
    )
    events = []
    with ARPipeline(options) as pipeline:
        for index in range(PIPELINE_FRAMES):
            frame = clip.camera.frame(index)
            state = pipeline.process(frame.bgr, timestamp_ms(index))
            events.extend(e.kind for e in state.step_events)
            assert state.found and state.outline_frame_px is not None
            assert (
                corner_errors(state.outline_frame_px, frame.corners_frame_px).max() <= CORNER_P95_TOLERANCE_PX
            )
            truth = np.array([[120, 80], [260, 80], [260, 150], [120, 150]], dtype=np.float64)
            homogeneous = (frame.homography @ np.column_stack([truth, np.ones(4)]).T).T
            expected = homogeneous[:, :2] / homogeneous[:, 2:]
            assert (
                corner_errors(state.annotations[0].points_frame_px, expected).max() <= CORNER_P95_TOLERANCE_PX
            )
    assert events == ["started", "completed"]
    assert state.step_completed
    encoded = json.loads(json.dumps(state.to_dict()))
    assert encoded["found"] is True and len(encoded["homography"]) == 3
    assert encoded["frame_size"] == [640, 480] and set(encoded["stage_ms"]) == {"locate", "project"}
    assert encoded["annotations"][0]["label"] == "J3 connector"


def test_pipeline_with_the_mat() -> None:
    clip = make_clip("mat_over_stuff")
    options = PipelineOptions(anchor="aruco", mat_layout=repair_mat_layout(), hands=False)
    with ARPipeline(options) as pipeline:
        states = [pipeline.process(clip.camera.frame(i).bgr, timestamp_ms(i)) for i in range(10)]
    assert all(s.found for s in states) and states[0].source == "aruco"


def test_timestamps_must_increase() -> None:
    with ARPipeline(PipelineOptions(reference=image("board.jpg"), hands=False)) as pipeline:
        frame = image("stuff.jpg")
        pipeline.process(frame, 100)
        with pytest.raises(ValueError, match="not after the previous frame"):
            pipeline.process(frame, 90)


@pytest.mark.parametrize(
    "frame", [np.zeros((480, 640), np.uint8), np.zeros((480, 640, 3), np.float32), "not a frame"], ids=str
)
def test_bad_frames_are_refused(frame: object) -> None:
    with ARPipeline(PipelineOptions(reference=image("board.jpg"), hands=False)) as pipeline:
        with pytest.raises(ValueError, match="uint8 BGR"):
            pipeline.process(frame, 0)  # type: ignore[arg-type]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="needs a reference"):
        PipelineOptions(hands=False)
    with pytest.raises(ValueError, match="needs a mat_layout"):
        PipelineOptions(anchor="aruco", hands=False)
    with pytest.raises(ValueError, match="detect_every"):
        PipelineOptions(reference=image("board.jpg"), detect_every=0)
    with pytest.raises(ValueError, match="lost_detect_every"):
        PipelineOptions(reference=image("board.jpg"), lost_detect_every=0)


def test_stages_can_be_switched_off() -> None:
    with ARPipeline(PipelineOptions(locate=False, hands=False)) as pipeline:
        state = pipeline.process(image("stuff.jpg"), 0)
    assert not state.found and state.stage_ms.keys() == {"project"}


@needs_model
def test_pipeline_with_hands() -> None:
    photo = image("hands/one_hand_open_palm_15a73593.jpg")
    with ARPipeline(PipelineOptions(reference=image("board.jpg"))) as pipeline:
        state = pipeline.process(photo, 0)
    assert [h.handedness for h in state.hands] == ["Left"]
    assert "hands" in state.stage_ms and not state.found
    assert len(state.to_dict()["hands"][0]["landmarks_frame_px"]) == 21


@needs_model
def test_hands_only_while_the_step_checks_a_touch() -> None:
    """``hands_when="touch"``: the hand model runs on a touch step's frames only, and only those that
    look; the frames in between show the last hands seen."""
    photo = image("hands/one_hand_open_palm_15a73593.jpg")
    options = PipelineOptions(reference=image("board.jpg"), hands_when="touch", step=VisibleRule(500))
    with ARPipeline(options) as pipeline:
        visible = pipeline.process(photo, 0)
        pipeline.set_step((), TouchRule(((0, 0), (10, 0), (10, 10)), dwell_ms=0))
        touch = pipeline.process(photo, 33)
        skipped = pipeline.process(photo, 66, look_for_hands=False)
        pipeline.set_step((), VisibleRule(500))
        after = pipeline.process(photo, 100)
    assert "hands" not in visible.stage_ms and visible.hands == ()
    assert "hands" in touch.stage_ms and len(touch.hands) == 1
    assert "hands" not in skipped.stage_ms and skipped.hands == touch.hands
    assert "hands" not in after.stage_ms and after.hands == ()


def test_hands_when_is_checked() -> None:
    with pytest.raises(ValueError, match="hands_when"):
        PipelineOptions(reference=image("board.jpg"), hands_when="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_width_px"):
        PipelineOptions(reference=image("board.jpg"), max_width_px=10)
