"""A video frame as vision takes it: converted only to what a stage needs, and only once.

A decoded video frame is YUV 4:2:0 (I420). Locating and tracking need grey, which is its Y plane
as it is; hands need RGB; drawing needs BGR. :class:`VideoImage` keeps the frame as it came and
makes each of these at most once, on first use, so a frame that only needs locating is never
converted at all. :meth:`VideoImage.scaled` gives a smaller copy for working at a lower
resolution (a 1280x720 phone frame located at 640x360 costs about what a 640x480 one does).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from vision.geometry import project_points
from vision.types import FloatArray, ImageArray, Location


class VideoImage:
    """One frame, I420 (``from_i420``) or BGR (``from_bgr``); views and scaled copies are cached
    and never written to. Use it from one thread at a time."""

    def __init__(self, width: int, height: int, i420: ImageArray | None, bgr: ImageArray | None) -> None:
        self.width = width
        self.height = height
        self._i420 = i420
        self._bgr = bgr
        self._gray: ImageArray | None = None
        self._rgb: ImageArray | None = None
        self._scaled: dict[int, VideoImage] = {}

    @classmethod
    def from_i420(cls, packed: ImageArray) -> VideoImage:
        """``packed``: the planes one after another, (height * 3 / 2) x width, uint8 (what PyAV's
        ``to_ndarray(format="yuv420p")`` gives for even sizes)."""
        rows, width = packed.shape
        if packed.dtype != np.uint8 or rows % 3 or width % 2:
            raise ValueError(f"expected packed I420 (3h/2 x w, even w), got {packed.shape} {packed.dtype}")
        return cls(width, rows * 2 // 3, packed, None)

    @classmethod
    def from_bgr(cls, bgr: ImageArray) -> VideoImage:
        if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
            raise ValueError(f"expected a uint8 BGR frame (H x W x 3), got {bgr.shape} {bgr.dtype}")
        return cls(bgr.shape[1], bgr.shape[0], None, bgr)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def gray(self) -> ImageArray:
        if self._gray is None:
            if self._i420 is not None:
                self._gray = self._i420[: self.height]
            else:
                assert self._bgr is not None
                self._gray = cv2.cvtColor(self._bgr, cv2.COLOR_BGR2GRAY)
        return self._gray

    def bgr(self) -> ImageArray:
        if self._bgr is None:
            assert self._i420 is not None
            self._bgr = cv2.cvtColor(self._i420, cv2.COLOR_YUV2BGR_I420)
        return self._bgr

    def rgb(self) -> ImageArray:
        if self._rgb is None:
            if self._i420 is not None:
                self._rgb = cv2.cvtColor(self._i420, cv2.COLOR_YUV2RGB_I420)
            else:
                self._rgb = cv2.cvtColor(self.bgr(), cv2.COLOR_BGR2RGB)
        return self._rgb

    def scaled(self, max_width: int | None) -> VideoImage:
        """A copy no wider than ``max_width`` (even sizes); itself when it fits. :func:`to_full_px`
        maps its pixels back to this frame's."""
        if max_width is None or self.width <= max_width:
            return self
        if max_width not in self._scaled:
            self._scaled[max_width] = self._resized(max_width)
        return self._scaled[max_width]

    def _resized(self, max_width: int) -> VideoImage:
        scale = max_width / self.width
        width = max(2, int(round(self.width * scale / 2)) * 2)
        height = max(2, int(round(self.height * scale / 2)) * 2)
        if self._i420 is not None:
            y = cv2.resize(self.gray(), (width, height), interpolation=cv2.INTER_AREA)
            quarter = self.height * self.width // 4
            chroma = self._i420[self.height :].reshape(-1)
            u = chroma[:quarter].reshape(self.height // 2, self.width // 2)
            v = chroma[quarter:].reshape(self.height // 2, self.width // 2)
            half = (width // 2, height // 2)
            u_small = cv2.resize(u, half, interpolation=cv2.INTER_AREA)
            v_small = cv2.resize(v, half, interpolation=cv2.INTER_AREA)
            packed = np.concatenate([y.reshape(-1), u_small.reshape(-1), v_small.reshape(-1)])
            return VideoImage.from_i420(packed.reshape(height * 3 // 2, width))
        return VideoImage.from_bgr(cv2.resize(self.bgr(), (width, height), interpolation=cv2.INTER_AREA))


def to_full_px(small: tuple[int, int], full: tuple[int, int]) -> FloatArray:
    """The 3x3 map from pixels of a resized copy (size ``small``) to the frame's (size ``full``).

    Pixel centres, as ``cv2.resize`` places them: x_full = (x_small + 0.5) * sx - 0.5.
    """
    sx, sy = full[0] / small[0], full[1] / small[1]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def location_in_full_frame(location: Location, small_to_full: FloatArray) -> Location:
    """``location`` found on a resized copy, in the frame's own pixels."""
    if not location.found:
        return location
    assert location.homography is not None and location.corners_frame_px is not None
    points = location.points_frame_px
    return replace(
        location,
        homography=small_to_full @ location.homography,
        corners_frame_px=project_points(small_to_full, location.corners_frame_px),
        points_frame_px=None if points is None else project_points(small_to_full, points),
    )


def as_video_image(frame: ImageArray | VideoImage) -> VideoImage:
    """``frame`` as a :class:`VideoImage` (a BGR array is checked and wrapped, not copied)."""
    if isinstance(frame, VideoImage):
        return frame
    if not isinstance(frame, np.ndarray):
        raise ValueError(
            f"expected a uint8 BGR frame (H x W x 3) or a VideoImage, got {type(frame).__name__}"
        )
    return VideoImage.from_bgr(frame)
