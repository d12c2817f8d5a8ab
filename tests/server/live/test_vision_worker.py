"""The vision worker's thread with a stand-in pipeline: when the pipeline is built, what it is given."""

from __future__ import annotations

import threading
from typing import Any

import av
import numpy as np

from server.live.media.vision_frames import LatestFrame
from server.live.vision_worker import VisionResult, VisionWorker

WAIT_S = 5.0


class RecordingPipeline:
    """Stands in for ``ARPipeline``: notes its calls and returns a marker instead of an ARState."""

    def __init__(self) -> None:
        self.steps: list[tuple[Any, Any]] = []
        self.processed: list[tuple[tuple[int, ...], int]] = []
        self.closed = False

    def set_step(self, annotations: Any, rule: Any) -> None:
        self.steps.append((annotations, rule))

    def process(self, image: np.ndarray, timestamp_ms: int) -> Any:
        self.processed.append((image.shape, timestamp_ms))
        return f"state of {timestamp_ms}"

    def close(self) -> None:
        self.closed = True


def test_the_pipeline_is_built_before_the_first_frame_arrives() -> None:
    """Loading the reference and the hand model takes most of a second: it must not delay the
    first frames' AR (the recording's first seconds would have no overlay to replay)."""
    built = threading.Event()
    pipelines: list[RecordingPipeline] = []

    def make() -> RecordingPipeline:
        pipelines.append(RecordingPipeline())
        built.set()
        return pipelines[-1]

    worker = VisionWorker("session-a", make, LatestFrame(), lambda result: None)  # type: ignore[arg-type]
    worker.start()
    try:
        assert built.wait(WAIT_S), "the pipeline was not built while waiting for frames"
        assert pipelines[0].processed == []
    finally:
        worker.stop()
    assert pipelines[0].closed


def test_a_frame_is_processed_with_the_current_step_and_published_with_its_generation() -> None:
    latest = LatestFrame()
    pipeline = RecordingPipeline()
    results: list[VisionResult] = []
    published = threading.Event()

    def publish(result: VisionResult) -> None:
        results.append(result)
        published.set()

    worker = VisionWorker("session-b", lambda: pipeline, latest, publish)  # type: ignore[arg-type,return-value]
    generation = worker.set_step((), None)
    worker.start()
    try:
        image = np.zeros((48, 64, 3), np.uint8)
        latest.put(av.VideoFrame.from_ndarray(image, format="bgr24"), 1234)
        assert published.wait(WAIT_S), "no result was published"
    finally:
        worker.stop()
    assert pipeline.steps == [((), None)]
    assert pipeline.processed == [((48, 64, 3), 1234)]
    assert results[0].state == "state of 1234" and results[0].generation == generation
