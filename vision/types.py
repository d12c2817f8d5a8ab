"""Shared aliases and the location record every locator and the tracker return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
"""float64 arrays: homographies (3x3), point lists (N x 2)."""

ImageArray = npt.NDArray[Any]
"""A frame or image as OpenCV holds it: uint8, H x W x 3 (BGR) or H x W (grey)."""

LocationSource = Literal["features", "aruco", "track"]


@dataclass(frozen=True)
class Location:
    """Where the reference (device photo or mat) is in one frame, or why it was not found.

    ``homography`` maps reference pixels to frame pixels; ``corners_frame_px`` are the
    reference's TL, TR, BR, BL pixel centres in the frame. ``inliers`` counts the point
    correspondences that agree with the homography; ``points_ref_px``/``points_frame_px`` are those
    correspondences, which the tracker follows into the next frame.
    """

    found: bool
    source: LocationSource
    homography: FloatArray | None = None
    corners_frame_px: FloatArray | None = None
    inliers: int = 0
    matches: int = 0
    reason: str = ""
    points_ref_px: FloatArray | None = None
    points_frame_px: FloatArray | None = None


def not_found(source: LocationSource, reason: str, *, matches: int = 0, inliers: int = 0) -> Location:
    """A negative location that says why, for logs and the CLI."""
    return Location(found=False, source=source, reason=reason, matches=matches, inliers=inliers)
