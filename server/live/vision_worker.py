"""Runs a session's vision pipeline on the newest decoded frame, in its own thread.

Never on the event loop and never holding back video: the worker takes the newest picture when
it is free and skips the rest (``LatestFrame``), so its latency stays flat however slow a step
is. Each result goes back to the event loop through ``publish``, stamped with the frame time it
was computed on and the step generation it was computed for (a result computed for a step that
has since changed must not complete the new one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vision.annotations import Annotation
from vision.pipeline import ARPipeline, ARState
from vision.steps import StepRule

from .media.vision_frames import LatestFrame

logger = logging.getLogger(__name__)

WAIT_S = 0.5


@dataclass(frozen=True)
class VisionResult:
    state: ARState
    image_bgr: np.ndarray
    generation: int
    received_at: float  # time.monotonic() when the frame was decoded


class VisionWorker:
    def __init__(
        self,
        session_id: str,
        make_pipeline: Callable[[], ARPipeline],
        latest: LatestFrame,
        publish: Callable[[VisionResult], None],
    ) -> None:
        self.session_id = session_id
        self._make_pipeline = make_pipeline
        self._latest = latest
        self._publish = publish
        self._stop = threading.Event()
        self._step_lock = threading.Lock()
        self._step: tuple[tuple[Annotation, ...], StepRule | None] = ((), None)
        self.generation = 0
        self._thread = threading.Thread(target=self._run, name=f"vision-{session_id[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Blocking (call it off the event loop): the frame in progress finishes first."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def set_step(self, annotations: tuple[Annotation, ...], rule: StepRule | None) -> int:
        """What to project and check from the next frame on; returns the new generation."""
        with self._step_lock:
            self.generation += 1
            self._step = (annotations, rule)
            return self.generation

    def _run(self) -> None:
        pipeline: ARPipeline | None = None
        seen = 0
        applied_generation = -1
        try:
            while not self._stop.is_set():
                # Built before waiting for a frame: loading the reference and the hand model takes
                # most of a second, and frames that arrive meanwhile would get no AR at all.
                if pipeline is None:
                    pipeline = self._make_pipeline()
                    applied_generation = -1
                decoded = self._latest.wait_newer(seen, WAIT_S)
                if decoded is None:
                    continue
                seen = decoded.sequence
                with self._step_lock:
                    generation, (annotations, rule) = self.generation, self._step
                if generation != applied_generation:
                    pipeline.set_step(annotations, rule)
                    applied_generation = generation
                image = decoded.frame.to_ndarray(format="bgr24")
                try:
                    state = pipeline.process(image, decoded.timestamp_ms)
                except ValueError as exc:
                    # The customer reconnected: a new stream whose clock starts again.
                    logger.info("session %s: vision restarts (%s)", self.session_id, exc)
                    pipeline.close()
                    pipeline = None
                    continue
                self._publish(VisionResult(state, image, generation, decoded.received_at))
        except Exception:
            logger.exception("session %s: vision stopped", self.session_id)
        finally:
            if pipeline is not None:
                pipeline.close()
