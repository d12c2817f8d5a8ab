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
from vision.features import FeatureLocator, FeatureOptions
from vision.frames import VideoImage, as_video_image, location_in_full_frame, to_full_px
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

    ``max_width_px``: locate and track on a copy of the frame scaled down to this width (results
    are in the frame's own pixels all the same); None works at the frame's size. A 1280x720 phone
    frame located at 640x360 costs about what a 640x480 one does (docs/vision.md).

    ``hands_when``: "always" runs the hand model on every frame; "touch" only while the current
    step checks a touch (the only rule that needs hands), which is most of a live session's saving.
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
    max_width_px: int | None = None
    hands_when: Literal["always", "touch"] = "always"
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
        if self.max_width_px is not None and self.max_width_px < 64:
            raise ValueError(f"max_width_px must be >= 64 or None, got {self.max_width_px}")
        if self.hands_when not in ("always", "touch"):
            raise ValueError(f"hands_when must be 'always' or 'touch', got {self.hands_when!r}")


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
        self._follow_size: tuple[int, int] | None = None
        self._last_hands: tuple[Hand, ...] = ()
        self._busy = threading.Lock()

    def process(
        self, frame: ImageArray | VideoImage, timestamp_ms: int, *, look_for_hands: bool = True
    ) -> ARState:
        """Run the enabled stages on one frame (BGR, or a :class:`VideoImage` as decoded);
        ``timestamp_ms`` must increase from call to call. ``look_for_hands`` False skips the hand
        model on this frame (the caller runs it at a lower rate); a touch step's dwell then goes on
        from the last frame that looked."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "ARPipeline.process is already running in another thread; use one worker per pipeline"
            )
        try:
            return self._process(as_video_image(frame), timestamp_ms, look_for_hands)
        finally:
            self._busy.release()

    def _process(self, image: VideoImage, timestamp_ms: int, look_for_hands: bool) -> ARState:
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
            location = self._locate(image, timestamp_ms)
            stage_ms["locate"] = (time.perf_counter() - start) * 1000
        step = self._step  # one read: set_step() may swap it from another thread meanwhile
        rule = step.rule
        wanted = self._hands is not None and self._step_wants_hands(rule)
        looked = wanted and look_for_hands
        if looked:
            assert self._hands is not None
            start = time.perf_counter()
            small = image.scaled(self.options.max_width_px)
            self._last_hands = tuple(self._hands.detect_rgb(small.rgb(), timestamp_ms, image.size))
            stage_ms["hands"] = (time.perf_counter() - start) * 1000
        elif not wanted:
            self._last_hands = ()
        # A frame that did not look shows the hands of the last one that did (a fraction of a second).
        hands = self._last_hands
        start = time.perf_counter()
        homography = location.homography if location.found else None
        projected = project_annotations(step.annotations, homography) if homography is not None else ()
        target = None
        if homography is not None and isinstance(rule, TouchRule):
            target = target_frame_px(rule, homography)
        events: tuple[StepEvent, ...] = ()
        completed = False
        if rule is not None and (looked or not isinstance(rule, TouchRule)):
            progress, events = check_step(rule, step.progress, timestamp_ms, homography, hands)
            completed = progress.completed
            step.progress = progress
        stage_ms["project"] = (time.perf_counter() - start) * 1000
        return ARState(
            timestamp_ms=timestamp_ms,
            frame_size=image.size,
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

    def _locate(self, image: VideoImage, timestamp_ms: int) -> Location:
        """The follower's location on the (maybe scaled) frame, in the frame's own pixels."""
        assert self._follower is not None
        small = image.scaled(self.options.max_width_px)
        if small.size != self._follow_size:
            self._follower.reset()  # a new size (the phone turned, the stream changed): start again
            self._follow_size = small.size
        location = self._follower.update(small.gray(), timestamp_ms)
        if small is image:
            return location
        return location_in_full_frame(location, to_full_px(small.size, image.size))

    def _step_wants_hands(self, rule: StepRule | None) -> bool:
        return self.options.hands_when == "always" or isinstance(rule, TouchRule)

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
