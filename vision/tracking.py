"""Carry a location from frame to frame without running the detector.

Pyramidal Lucas-Kanade follows the supporting points from the previous frame into this one
(both are real frames, so coarse pyramid levels see the same background and large motion is
fine); a robust fit gives a predicted homography, and :class:`vision.refine.ReferenceRefiner`
then aligns it with the reference itself. The refined points replace the tracked ones, so the
error of one frame is not carried into the next: tracking does not drift (tests check its
corner error like detection's). When the reference cannot be aligned (a real photo taken in
other light), the flow-only homography is used, checked like any other; the caller re-detects
periodically and whenever confidence drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.geometry import LocationChecks, checked_location
from vision.refine import ReferenceRefiner, track_points
from vision.types import FloatArray, ImageArray, Location, not_found


@dataclass(frozen=True)
class TrackOptions:
    """Flow settings and when to give up.

    ``min_keep_frac``: when fewer than this fraction of the points that the last detection
    found still agree, confidence is low and :attr:`Tracker.wants_detection` turns on.
    """

    win_size_px: int = 21
    max_level: int = 3
    max_forward_backward_px: float = 1.0
    fit_threshold_px: float = 3.0
    min_keep_frac: float = 0.5
    checks: LocationChecks = field(default_factory=LocationChecks)


class Tracker:
    """Follows one reference between detections. Not thread-safe; one per session.

    :attr:`aligned` says whether the last tracked frame was aligned with the reference (strong
    evidence) or rests on frame-to-frame flow only (which can slide onto the background).
    """

    def __init__(
        self, refiner: ReferenceRefiner, ref_size: tuple[int, int], options: TrackOptions | None = None
    ) -> None:
        self.options = options or TrackOptions()
        self._refiner = refiner
        self._ref_size = ref_size
        self._prev_gray: ImageArray | None = None
        self._points_ref: FloatArray = np.zeros((0, 2))
        self._points_frame: FloatArray = np.zeros((0, 2))
        self._start_count = 0
        self.wants_detection = True
        self.aligned = False

    @property
    def active(self) -> bool:
        """True while there is a location to follow."""
        return self._prev_gray is not None

    def reset(self) -> None:
        """Forget the device (it was lost, or the reference changed)."""
        self._prev_gray = None
        self._points_ref = np.zeros((0, 2))
        self._points_frame = np.zeros((0, 2))
        self._start_count = 0
        self.wants_detection = True

    def start(self, frame_gray: ImageArray, location: Location) -> None:
        """Follow ``location`` (a found one, in ``frame_gray``) from the next frame on."""
        if not location.found or location.points_ref_px is None or location.points_frame_px is None:
            raise ValueError("can only start tracking from a found location with its points")
        self._prev_gray = frame_gray
        self._points_ref = location.points_ref_px
        self._points_frame = location.points_frame_px
        self._start_count = len(location.points_ref_px)
        self.wants_detection = False

    def track(self, frame_gray: ImageArray) -> Location:
        """The location in ``frame_gray``, followed from the previous frame; resets itself when lost."""
        if self._prev_gray is None:
            return not_found("track", "nothing to track")
        if self._prev_gray.shape != frame_gray.shape:
            self.reset()
            return not_found("track", "frame size changed")
        location = self._follow(frame_gray)
        if not location.found:
            self.reset()
            return location
        assert location.points_ref_px is not None and location.points_frame_px is not None
        self._prev_gray = frame_gray
        self._points_ref = location.points_ref_px
        self._points_frame = location.points_frame_px
        self.wants_detection = location.inliers < self.options.min_keep_frac * self._start_count
        return location

    def _follow(self, frame_gray: ImageArray) -> Location:
        opts = self.options
        self.aligned = False
        assert self._prev_gray is not None
        moved, fb_error = track_points(
            self._prev_gray, frame_gray, self._points_frame, opts.win_size_px, opts.max_level
        )
        ok = fb_error < opts.max_forward_backward_px
        if ok.sum() < opts.checks.min_inliers:
            return not_found("track", f"{int(ok.sum())} points followed (< {opts.checks.min_inliers})")
        src = self._points_ref[ok]
        dst = moved[ok]
        fitted, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, opts.fit_threshold_px, confidence=0.999)
        if fitted is None or mask is None:
            return not_found("track", "no homography fits the followed points")
        predicted: FloatArray = np.asarray(fitted, dtype=np.float64)
        inlier = mask.ravel().astype(bool)
        frame_size = (frame_gray.shape[1], frame_gray.shape[0])
        refined = self._refiner.refine(frame_gray, predicted)
        if refined is not None:
            self.aligned = True
            return checked_location(
                "track",
                refined.homography,
                refined.points_ref_px,
                refined.points_frame_px,
                ref_size=self._ref_size,
                frame_size=frame_size,
                checks=opts.checks,
            )
        return checked_location(
            "track",
            predicted,
            src[inlier],
            dst[inlier],
            ref_size=self._ref_size,
            frame_size=frame_size,
            checks=opts.checks,
            matches=len(src),
            inlier_ratio=float(inlier.mean()),
        )
