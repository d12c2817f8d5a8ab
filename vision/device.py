"""Detection and tracking combined: when to run which, and the steady outline that comes out.

The detector (features or markers) runs on the first frame, every ``detect_every`` frames, and
whenever the tracker is lost or its confidence drops; in between the tracker carries the
location (about half the detector's cost, docs/vision.md). A detection that fails while
tracking still holds does not drop the device: a blurred frame often defeats the detector but not
the flow. After every find the homography is aligned with the reference (vision.refine).

While the device is lost (out of view, turned away), the detector runs only on every
``lost_detect_every``-th frame; the frames in between are reported not found at once, without a
search. The first frame after a loss is always searched, so a short tracking failure costs
nothing; a device that comes back into view (and stays detectable) is found up to
``lost_detect_every - 1`` frames later than with a search on every frame. This is what keeps
the whole pipeline within its per-frame budget on a video where the device is absent most of
the time (docs/vision.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from vision.geometry import LocationChecks, checked_location, reference_corners
from vision.refine import ReferenceRefiner, RefineOptions
from vision.smoothing import OneEuroFilter, SmoothingOptions
from vision.tracking import Tracker, TrackOptions
from vision.types import ImageArray, Location, not_found


class Locator(Protocol):
    """What a detector offers: the reference it looks for and a per-frame search."""

    reference_gray: ImageArray
    reference_size: tuple[int, int]

    def locate(self, frame_gray: ImageArray) -> Location: ...


@dataclass(frozen=True)
class FollowOptions:
    """``detect_every`` 1 with ``track`` False is detection on every frame (the accuracy baseline).

    ``max_unconfirmed_frames``: a tracked location that neither a detection nor an alignment with
    the reference has confirmed for this many frames is dropped. Flow alone follows whatever moves
    like the points did; on the real box video (a 3-D box, a reference photo in other light) it
    kept an outline for 120 frames after the detector last agreed.

    ``lost_detect_every``: while the device is lost, search for it on every this-many-th frame
    only (1: every frame); the frames in between are reported not found without a search, so
    re-detection after the device reappears takes up to ``lost_detect_every - 1`` frames longer.
    It never makes the detector run less often than ``detect_every`` asks, and it does not apply
    without tracking (``track`` False is detection on every frame). The default 3 was measured on
    the real box video (lost in 258 of 455 frames), whole pipeline with the full hand model: 1,
    2, 3, 4 gave medians 17.5, 15.4, 13.9, 13.3 ms and the same 197 found frames (docs/vision.md).
    """

    detect_every: int = 15
    lost_detect_every: int = 3
    max_unconfirmed_frames: int = 30
    track: bool = True
    refine: bool = True
    smooth: bool = True
    refine_options: RefineOptions = field(default_factory=RefineOptions)
    track_options: TrackOptions = field(default_factory=TrackOptions)
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    checks: LocationChecks = field(default_factory=LocationChecks)

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.lost_detect_every < 1:
            raise ValueError(f"lost_detect_every must be >= 1, got {self.lost_detect_every}")

    @property
    def lost_interval(self) -> int:
        """Frames from one search to the next while lost, as applied (see the class docstring)."""
        return min(self.lost_detect_every, self.detect_every) if self.track else 1


class DeviceFollower:
    """Per-session state of device location. Call :meth:`update` from one thread at a time."""

    def __init__(self, locator: Locator, options: FollowOptions | None = None) -> None:
        self.options = options or FollowOptions()
        self.locator = locator
        self._refiner = ReferenceRefiner(locator.reference_gray, self.options.refine_options)
        self._tracker = Tracker(self._refiner, locator.reference_size, self.options.track_options)
        self._filter = OneEuroFilter(self.options.smoothing)
        self._frames_since_detection = 0
        self._frames_unconfirmed = 0
        self._lost_skip = 0  # frames still to report lost without a search
        self._last_search: Location | None = None
        self._corners_ref = reference_corners(*locator.reference_size)

    def reset(self) -> None:
        """Forget the device (a new stream, or the reference changed)."""
        self._tracker.reset()
        self._filter.reset()
        self._frames_since_detection = 0
        self._frames_unconfirmed = 0
        self._lost_skip = 0
        self._last_search = None

    def update(self, frame_gray: ImageArray, timestamp_ms: int) -> Location:
        """Locate the device in this frame (detect or track), refined and smoothed."""
        opts = self.options
        tracked: Location | None = None
        if opts.track and self._tracker.active:
            tracked = self._tracker.track(frame_gray)
            self._frames_unconfirmed = 0 if self._tracker.aligned else self._frames_unconfirmed + 1
            if tracked.found and self._frames_unconfirmed > opts.max_unconfirmed_frames:
                self._tracker.reset()
                tracked = not_found("track", f"not confirmed for {self._frames_unconfirmed} frames")
        due = (
            tracked is None
            or not tracked.found
            or self._tracker.wants_detection
            or self._frames_since_detection + 1 >= opts.detect_every
        )
        location = tracked
        lost = tracked is None or not tracked.found
        if lost and self._lost_skip > 0:
            self._lost_skip -= 1
            self._filter.reset()
            return self._not_searched()
        if due:
            detected = self._detect(frame_gray)
            self._frames_since_detection = 0
            if detected.found or lost:
                location = detected
                if detected.found and opts.track:
                    self._tracker.start(frame_gray, detected)
                    self._frames_unconfirmed = 0
            self._last_search = detected
            self._lost_skip = 0 if detected.found or not lost else opts.lost_interval - 1
        else:
            self._frames_since_detection += 1
        assert location is not None
        if not location.found:
            self._filter.reset()
            return location
        return self._smoothed(location, timestamp_ms)

    def _not_searched(self) -> Location:
        last = self._last_search
        assert last is not None
        return not_found(
            last.source,
            f"not searched (lost; the detector runs every {self.options.lost_interval} frames): "
            f"last search: {last.reason}",
        )

    def _detect(self, frame_gray: ImageArray) -> Location:
        detected = self.locator.locate(frame_gray)
        if not detected.found or not self.options.refine:
            return detected
        assert detected.homography is not None
        refined = self._refiner.refine(frame_gray, detected.homography)
        if refined is None:
            return detected
        aligned = checked_location(
            detected.source,
            refined.homography,
            refined.points_ref_px,
            refined.points_frame_px,
            ref_size=self.locator.reference_size,
            frame_size=(frame_gray.shape[1], frame_gray.shape[0]),
            checks=self.options.checks,
            matches=detected.matches,
        )
        return aligned if aligned.found else detected

    def _smoothed(self, location: Location, timestamp_ms: int) -> Location:
        if not self.options.smooth:
            return location
        assert location.corners_frame_px is not None
        corners = self._filter(location.corners_frame_px, timestamp_ms)
        homography = np.asarray(
            cv2.getPerspectiveTransform(self._corners_ref.astype(np.float32), corners.astype(np.float32)),
            dtype=np.float64,
        )
        return Location(
            found=True,
            source=location.source,
            homography=homography,
            corners_frame_px=corners,
            inliers=location.inliers,
            matches=location.matches,
            points_ref_px=location.points_ref_px,
            points_frame_px=location.points_frame_px,
        )
