"""Sub-pixel alignment of a homography against the reference image itself.

Both the feature locator and the tracker end here. The reference is warped into the frame with
the current homography, and pyramidal Lucas-Kanade measures how far each well-textured reference
point still is from its place in the frame; a homography fitted to the corrected points is the
refined one. Because every frame is compared with the *reference* (not with the previous frame),
errors do not add up from frame to frame: the tracker built on this cannot drift. ORB keypoints
sit on a coarse scale pyramid (measured worst-corner median about 1 px on the generated board
clip); after this step it is about 0.2 px (docs/vision.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vision.geometry import project_points
from vision.types import FloatArray, ImageArray

LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)


@dataclass(frozen=True)
class RefineOptions:
    """Lucas-Kanade and fit settings.

    The warped reference has no background, so coarse pyramid levels (whose windows cover mostly
    background) pull points away: measured on the generated box clip, ``max_level`` 3 moved
    median points by 100-300 px, ``max_level`` 1 converged to 0.02-0.05 px. So the prediction
    must already be within a few pixels; large motion is taken up by the tracker's frame-to-frame
    flow first.

    ``max_points``: Lucas-Kanade there and back is most of a live session's vision time. 60 points
    took it from 9.7 to 4.5 ms a frame with the same corner errors on the generated board (0.27 /
    0.61 px median / p95 against 0.27 / 0.64 with 120) and more real box frames found (113 of 152
    against 92 at 10 fps: with fewer points, the weak corners that fail the forward-backward check
    are left out); `benchmarks/vision_rate_bench.py`, docs/vision.md.
    """

    max_points: int = 60
    win_size_px: int = 21
    max_level: int = 1
    max_forward_backward_px: float = 0.5
    fit_threshold_px: float = 1.5
    min_points: int = 15
    min_inlier_frac: float = 0.4


@dataclass(frozen=True)
class Refinement:
    """A refined homography and the correspondences that support it."""

    homography: FloatArray
    points_ref_px: FloatArray
    points_frame_px: FloatArray
    tried: int


def track_points(
    prev_gray: ImageArray, next_gray: ImageArray, points: FloatArray, win_size_px: int, max_level: int
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Pyramidal Lucas-Kanade from ``prev_gray`` to ``next_gray`` with a forward-backward check.

    Returns the moved points and, per point, the forward-backward error in px (inf where the
    flow failed either way). Following a point there and back and landing elsewhere is the
    cheapest reliable sign of a wrong match (occlusion, a point on the edge of the device).
    """
    start = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 1, 2)
    win = (win_size_px, win_size_px)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        prev_gray, next_gray, start, start.copy(), winSize=win, maxLevel=max_level, criteria=LK_CRITERIA
    )
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(
        next_gray, prev_gray, moved, moved.copy(), winSize=win, maxLevel=max_level, criteria=LK_CRITERIA
    )
    error = np.linalg.norm((np.asarray(back) - start).reshape(-1, 2), axis=1)
    failed = (np.asarray(status).ravel() != 1) | (np.asarray(status_back).ravel() != 1)
    error[failed] = np.inf
    return np.asarray(moved, dtype=np.float64).reshape(-1, 2), error


def _window_box(
    points: FloatArray, win_size_px: int, max_level: int, width: int, height: int
) -> tuple[int, int, int, int]:
    """The frame box (x0, y0, x1, y1) that holds every point's Lucas-Kanade window at every level.

    The margin is a whole window at the coarsest level (twice the window's half-width), which
    leaves room for the points to move while they converge.
    """
    margin = win_size_px * 2**max_level
    low = np.floor(points.min(axis=0) - margin).astype(int)
    high = np.ceil(points.max(axis=0) + margin).astype(int) + 1
    return max(0, int(low[0])), max(0, int(low[1])), min(width, int(high[0])), min(height, int(high[1]))


class ReferenceRefiner:
    """Holds the reference's trackable points; stateless per frame, so one per session is enough."""

    def __init__(self, reference_gray: ImageArray, options: RefineOptions | None = None) -> None:
        self.options = options or RefineOptions()
        self.reference_gray = reference_gray
        height, width = reference_gray.shape
        min_distance = max(4.0, min(width, height) / 40.0)
        corners = cv2.goodFeaturesToTrack(
            reference_gray,
            maxCorners=self.options.max_points,
            qualityLevel=0.01,
            minDistance=min_distance,
            blockSize=7,
        )
        self.points_ref_px: FloatArray = (
            np.zeros((0, 2)) if corners is None else corners.reshape(-1, 2).astype(np.float64)
        )

    def refine(self, frame_gray: ImageArray, homography: FloatArray) -> Refinement | None:
        """Align ``homography`` (reference px -> frame px) to ``frame_gray``; None if too few points agree."""
        opts = self.options
        height, width = frame_gray.shape
        predicted = project_points(homography, self.points_ref_px)
        margin = opts.win_size_px / 2
        inside = (
            (predicted[:, 0] >= margin)
            & (predicted[:, 1] >= margin)
            & (predicted[:, 0] < width - margin)
            & (predicted[:, 1] < height - margin)
        )
        if inside.sum() < opts.min_points:
            return None
        ref_pts = self.points_ref_px[inside]
        # Only the box that the points' windows can reach is warped and searched (a window at
        # pyramid level L spans win * 2**L frame px): the device is usually a fraction of the
        # frame. On the generated board clip this took the step from 3.6 to 2.3 ms (median),
        # with the same corner errors (docs/vision.md).
        x0, y0, x1, y1 = _window_box(predicted[inside], opts.win_size_px, opts.max_level, width, height)
        to_box = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
        warped = cv2.warpPerspective(
            self.reference_gray,
            to_box @ homography,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        offset = np.array([x0, y0], dtype=np.float64)
        moved, fb_error = track_points(
            warped, frame_gray[y0:y1, x0:x1], predicted[inside] - offset, opts.win_size_px, opts.max_level
        )
        moved = moved + offset
        ok = fb_error < opts.max_forward_backward_px
        if ok.sum() < opts.min_points:
            return None
        src = ref_pts[ok]
        dst = moved[ok]
        refined, mask = cv2.findHomography(
            src, dst, cv2.RANSAC, opts.fit_threshold_px, maxIters=500, confidence=0.999
        )
        if refined is None or mask is None:
            return None
        inlier = mask.ravel().astype(bool)
        if inlier.sum() < max(opts.min_points, opts.min_inlier_frac * len(ref_pts)):
            return None
        # A least-squares fit over the agreeing points is steadier than RANSAC's minimal-sample model.
        final, _ = cv2.findHomography(src[inlier], dst[inlier], 0)
        if final is None:
            return None
        return Refinement(
            np.asarray(final / final[2, 2], dtype=np.float64), src[inlier], dst[inlier], len(ref_pts)
        )
