"""The per-session vision pipeline: ``process(frame, timestamp_ms) -> ARState``.

One :class:`ARPipeline` per session. It owns the device follower (detection + tracking), the
hand tracker and the step progress, and returns a frozen :class:`ARState` of plain values that
``to_dict`` turns into JSON for the data channel. It does no I/O and keeps no globals. The
server calls it from one worker thread at a time; a second concurrent call raises instead of
corrupting the tracker state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from vision.annotations import Annotation
from vision.device import DeviceFollower, FollowOptions, Locator
from vision.features import FeatureLocator, FeatureOptions, to_gray
from vision.hands import Hand, HandsOptions, HandTracker
from vision.markers import MarkerLocator, MarkerOptions, MatLayout
from vision.projection import ProjectedAnnotation, project_annotations
from vision.steps import StepEvent, StepProgress, StepRule, TouchRule, check_step, target_frame_px
from vision.types import FloatArray, ImageArray, Location


@dataclass(frozen=True)
class PipelineOptions:
    """What a session's pipeline does.

    ``anchor`` "features" needs ``reference`` (the device photo); "aruco" needs ``mat_layout``
    (and optionally ``reference``, the image whose pixels the layout is in; the rendered mat by
    default). Annotations and the step rule are in reference pixels.

    ``detect_every`` and ``lost_detect_every`` are :class:`vision.device.FollowOptions`'s: the
    detector runs every ``detect_every`` frames while the device is tracked, and every
    ``lost_detect_every`` frames while it is lost (so a device coming back into view is found
    up to ``lost_detect_every - 1`` frames later than with a search on every frame).
    """

    anchor: Literal["features", "aruco"] = "features"
    reference: ImageArray | None = None
    mat_layout: MatLayout | None = None
    locate: bool = True
    track: bool = True
    hands: bool = True
    detect_every: int = 15
    lost_detect_every: int = 3
    smooth: bool = True
    hands_options: HandsOptions = field(default_factory=HandsOptions)
    feature_options: FeatureOptions = field(default_factory=FeatureOptions)
    marker_options: MarkerOptions = field(default_factory=MarkerOptions)
    annotations: tuple[Annotation, ...] = ()
    step: StepRule | None = None

    def __post_init__(self) -> None:
        if self.anchor not in ("features", "aruco"):
            raise ValueError(f"anchor must be 'features' or 'aruco', got {self.anchor!r}")
        if self.locate and self.anchor == "features" and self.reference is None:
            raise ValueError("anchor 'features' needs a reference image of the device")
        if self.locate and self.anchor == "aruco" and self.mat_layout is None:
            raise ValueError("anchor 'aruco' needs a mat_layout")
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.lost_detect_every < 1:
            raise ValueError(f"lost_detect_every must be >= 1, got {self.lost_detect_every}")


@dataclass(frozen=True)
class ARState:
    """Everything vision knows about one frame. Homography and outline map reference px to frame px."""

    timestamp_ms: int
    frame_size: tuple[int, int]
    found: bool
    source: str | None
    homography: FloatArray | None
    outline_frame_px: FloatArray | None
    inliers: int
    reason: str
    annotations: tuple[ProjectedAnnotation, ...]
    target_frame_px: FloatArray | None
    hands: tuple[Hand, ...]
    step_events: tuple[StepEvent, ...]
    step_completed: bool
    stage_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, numbers, strings, None)."""
        return {
            "timestamp_ms": self.timestamp_ms,
            "frame_size": list(self.frame_size),
            "found": self.found,
            "source": self.source,
            "homography": None
            if self.homography is None
            else [[float(v) for v in row] for row in self.homography],
            "outline_frame_px": None
            if self.outline_frame_px is None
            else np.round(self.outline_frame_px, 2).tolist(),
            "inliers": self.inliers,
            "reason": self.reason,
            "annotations": [a.to_dict() for a in self.annotations],
            "target_frame_px": None
            if self.target_frame_px is None
            else np.round(self.target_frame_px, 2).tolist(),
            "hands": [h.to_dict() for h in self.hands],
            "step_events": [e.to_dict() for e in self.step_events],
            "step_completed": self.step_completed,
            "stage_ms": {k: round(v, 3) for k, v in self.stage_ms.items()},
        }


@dataclass
class _StepConfig:
    """The current step's annotations and rule, with the rule's progress (replaced as a whole)."""

    annotations: tuple[Annotation, ...]
    rule: StepRule | None
    progress: StepProgress = field(default_factory=StepProgress)


def make_locator(options: PipelineOptions) -> Locator:
    """The detector the options ask for."""
    if options.anchor == "aruco":
        assert options.mat_layout is not None
        return MarkerLocator(options.mat_layout, options.reference, options.marker_options)
    assert options.reference is not None
    return FeatureLocator(options.reference, options.feature_options)


class ARPipeline:
    """Vision for one session. Build once, call :meth:`process` per frame, :meth:`close` at the end."""

    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self._follower: DeviceFollower | None = None
        if options.locate:
            follow = FollowOptions(
                detect_every=options.detect_every,
                lost_detect_every=options.lost_detect_every,
                track=options.track,
                smooth=options.smooth,
            )
            self._follower = DeviceFollower(make_locator(options), follow)
        self._hands = HandTracker(options.hands_options) if options.hands else None
        self._step = _StepConfig(options.annotations, options.step)
        self._last_timestamp_ms: int | None = None
        self._busy = threading.Lock()

    def process(self, frame_bgr: ImageArray, timestamp_ms: int) -> ARState:
        """Run the enabled stages on one frame; ``timestamp_ms`` must increase from call to call."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "ARPipeline.process is already running in another thread; use one worker per pipeline"
            )
        try:
            return self._process(frame_bgr, timestamp_ms)
        finally:
            self._busy.release()

    def _process(self, frame_bgr: ImageArray, timestamp_ms: int) -> ARState:
        if (
            not isinstance(frame_bgr, np.ndarray)
            or frame_bgr.dtype != np.uint8
            or frame_bgr.ndim != 3
            or frame_bgr.shape[2] != 3
        ):
            shape = getattr(frame_bgr, "shape", None)
            raise ValueError(
                f"expected a uint8 BGR frame (H x W x 3), got {type(frame_bgr).__name__} {shape}"
            )
        if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int | np.integer):
            raise ValueError(f"timestamp_ms must be an integer, got {timestamp_ms!r}")
        timestamp_ms = int(timestamp_ms)
        if self._last_timestamp_ms is not None and timestamp_ms <= self._last_timestamp_ms:
            raise ValueError(
                f"timestamp_ms {timestamp_ms} is not after the previous frame's {self._last_timestamp_ms}; "
                "frames must come in time order (use a new ARPipeline for a new stream)"
            )
        self._last_timestamp_ms = timestamp_ms
        stage_ms: dict[str, float] = {}
        location = Location(found=False, source="features", reason="location is off")
        if self._follower is not None:
            start = time.perf_counter()
            location = self._follower.update(to_gray(frame_bgr), timestamp_ms)
            stage_ms["locate"] = (time.perf_counter() - start) * 1000
        hands: tuple[Hand, ...] = ()
        if self._hands is not None:
            start = time.perf_counter()
            hands = tuple(self._hands.detect(frame_bgr, timestamp_ms))
            stage_ms["hands"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        step = self._step  # one read: set_step() may swap it from another thread meanwhile
        homography = location.homography if location.found else None
        projected = project_annotations(step.annotations, homography) if homography is not None else ()
        target = None
        rule = step.rule
        if homography is not None and isinstance(rule, TouchRule):
            target = target_frame_px(rule, homography)
        events: tuple[StepEvent, ...] = ()
        completed = False
        if rule is not None:
            progress, events = check_step(rule, step.progress, timestamp_ms, homography, hands)
            completed = progress.completed
            step.progress = progress
        stage_ms["project"] = (time.perf_counter() - start) * 1000
        return ARState(
            timestamp_ms=timestamp_ms,
            frame_size=(frame_bgr.shape[1], frame_bgr.shape[0]),
            found=location.found,
            source=location.source if location.found else None,
            homography=homography,
            outline_frame_px=location.corners_frame_px if location.found else None,
            inliers=location.inliers,
            reason=location.reason,
            annotations=projected,
            target_frame_px=target,
            hands=hands,
            step_events=events,
            step_completed=completed,
            stage_ms=stage_ms,
        )

    def set_step(self, annotations: tuple[Annotation, ...], rule: StepRule | None) -> None:
        """Show other annotations and check another rule from the next frame on (the step changed).

        Safe to call from another thread while :meth:`process` runs: the frame in progress
        finishes with the old step.
        """
        self._step = _StepConfig(tuple(annotations), rule)

    def close(self) -> None:
        if self._hands is not None:
            self._hands.close()

    def __enter__(self) -> ARPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
