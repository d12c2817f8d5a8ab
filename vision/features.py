"""Marker-less location of a device from one reference photo.

Chosen by measurement on this project's data (opencv-python-headless 5.0.0, one thread,
640x480 frames; figures in docs/vision.md):

* **ORB** (1000 features) rather than SIFT: SIFT was more accurate per match but took 61-75 ms
  per frame to detect, ORB 3-4.5 ms, and a live session also has to run hand landmarks in the
  same frame budget. The accuracy gap is closed by :mod:`vision.refine` (sub-pixel alignment
  against the reference after every find), not by a slower detector. AKAZE is not in the
  OpenCV 5 main modules, so it was not an option.
* **Lowe ratio 0.85** rather than the textbook 0.75: on the real hand-held box video ORB found
  the box in 30 of 228 sampled frames at 0.75 and 78 at 0.85 (SIFT at 0.75: 82), and the
  extra wrong matches are removed by the robust fit and the checks below.
* **USAC MAGSAC++** rather than RANSAC: at the same 3 px threshold, median/p95 worst-corner
  error on the generated board clip was 1.05/1.97 px against 1.54/5.90 px for RANSAC, at
  the same speed (< 0.5 ms).

An inlier count alone is no proof of a find (SIFT gives 33 inliers on a video of a cup with
the board as reference), so a location must also pass :func:`vision.geometry.outline_problem`
and :func:`vision.geometry.spread_problem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.geometry import LocationChecks, checked_location, reference_corners
from vision.types import ImageArray, Location, not_found


@dataclass(frozen=True)
class FeatureOptions:
    """Knobs of the feature locator; the defaults are the measured choice (module docstring)."""

    max_features: int = 1000
    ratio: float = 0.85
    ransac_threshold_px: float = 3.0
    ransac_max_iters: int = 2000
    max_reference_side_px: int = 1024
    checks: LocationChecks = field(default_factory=LocationChecks)

    def __post_init__(self) -> None:
        if self.max_features < 50:
            raise ValueError(f"max_features must be >= 50, got {self.max_features}")
        if not 0.5 <= self.ratio < 1.0:
            raise ValueError(f"ratio must be in [0.5, 1), got {self.ratio}")


def to_gray(image: ImageArray) -> ImageArray:
    """Grey uint8 view of a BGR or grey image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a BGR, BGRA or grey image, got shape {image.shape}")


class FeatureLocator:
    """Finds one reference photo in frames. Holds the reference's features; no per-frame state."""

    def __init__(self, reference: ImageArray, options: FeatureOptions | None = None) -> None:
        self.options = options or FeatureOptions()
        gray = to_gray(reference)
        if gray.dtype != np.uint8:
            raise ValueError(f"reference must be uint8, got {gray.dtype}")
        self.reference_gray = gray
        height, width = gray.shape
        self.reference_size = (width, height)
        self.corners_ref_px = reference_corners(width, height)
        self._orb = cv2.ORB.create(self.options.max_features)
        # Big references are described at a smaller size (features are then found at the scale
        # the device has in a frame) and the keypoints are scaled back to reference pixels.
        scale = min(1.0, self.options.max_reference_side_px / max(width, height))
        small = (
            gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        keypoints, descriptors = self._orb.detectAndCompute(small, None)
        if descriptors is None or len(keypoints) < self.options.checks.min_inliers:
            raise ValueError(
                f"the reference image has too little texture: {len(keypoints)} features "
                f"(need at least {self.options.checks.min_inliers}); "
                "use a sharper, closer photo of the device"
            )
        self._ref_points = np.array([kp.pt for kp in keypoints], dtype=np.float64) / scale
        self._ref_descriptors = descriptors
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def locate(self, frame_gray: ImageArray) -> Location:
        """Find the reference in a grey frame; a negative result says why."""
        opts = self.options
        checks = opts.checks
        keypoints, descriptors = self._orb.detectAndCompute(frame_gray, None)
        if descriptors is None or len(keypoints) < checks.min_inliers:
            return not_found("features", f"{len(keypoints)} features in the frame")
        pairs = self._matcher.knnMatch(self._ref_descriptors, descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < opts.ratio * p[1].distance]
        if len(good) < checks.min_inliers:
            return not_found("features", f"{len(good)} matches (< {checks.min_inliers})", matches=len(good))
        src = self._ref_points[[m.queryIdx for m in good]]
        dst = np.array([keypoints[m.trainIdx].pt for m in good], dtype=np.float64)
        homography, mask = cv2.findHomography(
            src,
            dst,
            cv2.USAC_MAGSAC,
            opts.ransac_threshold_px,
            maxIters=opts.ransac_max_iters,
            confidence=0.999,
        )
        if homography is None or mask is None:
            return not_found("features", "no homography fits the matches", matches=len(good))
        inlier = mask.ravel().astype(bool)
        count = int(inlier.sum())
        return checked_location(
            "features",
            np.asarray(homography, dtype=np.float64),
            src[inlier],
            dst[inlier],
            matches=len(good),
            ref_size=self.reference_size,
            frame_size=(frame_gray.shape[1], frame_gray.shape[0]),
            checks=checks,
            inlier_ratio=count / len(good),
        )
