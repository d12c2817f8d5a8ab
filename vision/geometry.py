"""Homography helpers and the plausibility checks every locator shares.

A homography that RANSAC returns is only a hypothesis: with enough random matches a consensus
appears on any picture (33 SIFT inliers on a video of a cup, with a circuit board as reference).
So a location is accepted only when the outline it implies could be a flat device seen by a camera
(convex, not degenerate, of plausible size) and when the evidence covers the device rather than one
corner of it. The checks return a reason string instead of raising, so callers can report *why* a
frame was rejected (the CLI prints it; authors use it to improve reference photos).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.types import FloatArray, Location, LocationSource, not_found


def reference_corners(width: int, height: int) -> FloatArray:
    """TL, TR, BR, BL pixel centres of a ``width`` x ``height`` image (OpenCV convention)."""
    corners: FloatArray = np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64
    )
    return corners


def project_points(homography: FloatArray, points: FloatArray) -> FloatArray:
    """Map N x 2 points through a 3x3 homography; returns N x 2 float64."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    if len(pts) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    mapped = cv2.perspectiveTransform(pts, np.asarray(homography, dtype=np.float64))
    return np.asarray(mapped, dtype=np.float64).reshape(-1, 2)


def points_in_front(homography: FloatArray, points: FloatArray) -> bool:
    """True when every point maps with a positive projective depth (no wrap through infinity)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    w = np.asarray(homography, dtype=np.float64)[2] @ np.vstack([pts.T, np.ones(len(pts))])
    return bool(np.all(w > 1e-9))


def polygon_area(points: FloatArray) -> float:
    """Signed-free area of a simple polygon (shoelace formula)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def interior_angles_deg(quad: FloatArray) -> FloatArray:
    """The four interior angles of a quadrilateral, in degrees."""
    pts = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    angles = []
    for i in range(4):
        a = pts[i - 1] - pts[i]
        b = pts[(i + 1) % 4] - pts[i]
        cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return np.array(angles)


@dataclass(frozen=True)
class OutlineLimits:
    """What an outline of a real flat device in a frame may look like.

    The defaults allow a device from about 1% of the frame up to four frames' area (a close-up
    where the corners fall outside the picture) and a tilt of about 70 degrees; beyond that the
    feature matches are too foreshortened to be trusted anyway.
    """

    min_area_frac: float = 0.01
    max_area_frac: float = 4.0
    min_angle_deg: float = 25.0
    max_side_ratio: float = 8.0


def outline_problem(
    corners_frame_px: FloatArray, frame_size: tuple[int, int], limits: OutlineLimits
) -> str | None:
    """Why ``corners_frame_px`` (TL, TR, BR, BL) cannot be a device outline, or None if it can."""
    quad = np.asarray(corners_frame_px, dtype=np.float64).reshape(4, 2)
    if not np.all(np.isfinite(quad)):
        return "outline has non-finite corners"
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return "outline is not convex"
    width, height = frame_size
    area_frac = polygon_area(quad) / float(width * height)
    if area_frac < limits.min_area_frac:
        return f"outline covers {area_frac:.2%} of the frame (< {limits.min_area_frac:.0%})"
    if area_frac > limits.max_area_frac:
        return f"outline covers {area_frac:.0%} of the frame (> {limits.max_area_frac:.0%})"
    min_angle = float(interior_angles_deg(quad).min())
    if min_angle < limits.min_angle_deg:
        return f"outline has a {min_angle:.0f} degree corner (< {limits.min_angle_deg:.0f})"
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.max() > limits.max_side_ratio * max(sides.min(), 1e-9):
        return "outline sides are too unequal"
    return None


def spread_problem(
    points_ref_px: FloatArray, ref_size: tuple[int, int], min_hull_frac: float, min_cells: int
) -> str | None:
    """Why the inliers (reference px) are too clustered to fix a homography, or None.

    Inliers bunched in one spot fit many homographies equally well, so the far corners are
    guesses; requiring the inliers' convex hull to cover part of the reference and to touch
    several cells of a 4x4 grid rejects those.
    """
    pts = np.asarray(points_ref_px, dtype=np.float32).reshape(-1, 2)
    width, height = ref_size
    if len(pts) < 4:
        return f"only {len(pts)} inliers"
    hull = np.asarray(cv2.convexHull(pts.reshape(-1, 1, 2)), dtype=np.float64)
    hull_frac = polygon_area(hull.reshape(-1, 2)) / float(width * height)
    if hull_frac < min_hull_frac:
        return f"inliers span {hull_frac:.1%} of the reference (< {min_hull_frac:.0%})"
    cols = np.clip((pts[:, 0] * 4 / width).astype(int), 0, 3)
    rows = np.clip((pts[:, 1] * 4 / height).astype(int), 0, 3)
    cells = len(set(zip(cols.tolist(), rows.tolist(), strict=True)))
    if cells < min_cells:
        return f"inliers fall in {cells} of 16 reference cells (< {min_cells})"
    return None


@dataclass(frozen=True)
class LocationChecks:
    """The evidence a homography needs before it counts as a find (see the module docstring)."""

    min_inliers: int = 15
    min_inlier_ratio: float = 0.15
    min_hull_frac: float = 0.02
    min_cells: int = 3
    outline: OutlineLimits = field(default_factory=OutlineLimits)

    def __post_init__(self) -> None:
        if self.min_inliers < 4:
            raise ValueError(
                f"min_inliers must be >= 4 (a homography needs 4 points), got {self.min_inliers}"
            )


def checked_location(
    source: LocationSource,
    homography: FloatArray,
    points_ref_px: FloatArray,
    points_frame_px: FloatArray,
    *,
    ref_size: tuple[int, int],
    frame_size: tuple[int, int],
    checks: LocationChecks,
    matches: int | None = None,
    inlier_ratio: float = 1.0,
) -> Location:
    """A found :class:`Location` if the hypothesis passes every check, else a not-found one saying why."""
    count = len(points_ref_px)
    seen = count if matches is None else matches
    if count < checks.min_inliers:
        return not_found(source, f"{count} inliers (< {checks.min_inliers})", matches=seen, inliers=count)
    if inlier_ratio < checks.min_inlier_ratio:
        return not_found(
            source,
            f"inlier ratio {inlier_ratio:.2f} (< {checks.min_inlier_ratio})",
            matches=seen,
            inliers=count,
        )
    h = np.asarray(homography, dtype=np.float64)
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return not_found(source, "degenerate homography", matches=seen, inliers=count)
    h = h / h[2, 2]
    corners_ref = reference_corners(*ref_size)
    if not points_in_front(h, corners_ref):
        return not_found(
            source, "homography folds the reference through infinity", matches=seen, inliers=count
        )
    corners = project_points(h, corners_ref)
    problem = outline_problem(corners, frame_size, checks.outline) or spread_problem(
        points_ref_px, ref_size, checks.min_hull_frac, checks.min_cells
    )
    if problem:
        return not_found(source, problem, matches=seen, inliers=count)
    return Location(
        found=True,
        source=source,
        homography=h,
        corners_frame_px=corners,
        inliers=count,
        matches=seen,
        points_ref_px=np.asarray(points_ref_px, dtype=np.float64),
        points_frame_px=np.asarray(points_frame_px, dtype=np.float64),
    )
