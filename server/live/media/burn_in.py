"""Server-side burn-in: the expert's video with the AR overlay drawn into its pixels.

Off by default: it costs a decode (already done for vision) and a re-encode per frame, the
path forwarding exists to avoid. The drawing runs in a worker thread; aiortc encodes the
frames the expert's video track takes from :meth:`BurnInSource.next_frame` (VP8, like the
forwarded stream, so the same sender switches between the two).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
from av import VideoFrame

from vision.drawing import draw_overlay
from vision.pipeline import ARState

from ...blocking import run_blocking
from .vision_frames import DecodedFrame, LatestFrame

VIDEO_TIME_BASE = Fraction(1, 90000)
FRAME_WAIT_S = 1.0


def burned_in(decoded: DecodedFrame, state: ARState | None) -> VideoFrame:
    image: np.ndarray = decoded.frame.to_ndarray(format="bgr24")
    if state is not None and state.found and state.frame_size == (image.shape[1], image.shape[0]):
        image = draw_overlay(image, state.outline_frame_px, state.annotations, state.hands)
    frame = VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = int(decoded.timestamp_ms * 90)
    frame.time_base = VIDEO_TIME_BASE
    return frame


class BurnInSource:
    """The newest decoded customer frame with the newest AR state drawn on it, one per new frame."""

    def __init__(self, latest: LatestFrame, state: Callable[[], ARState | None]) -> None:
        self._latest = latest
        self._state = state
        self._seen = 0
        self._last_pts = -1

    async def next_frame(self) -> VideoFrame:
        while True:
            decoded = await run_blocking(self._latest.wait_newer, self._seen, FRAME_WAIT_S)
            if decoded is not None:
                break
        self._seen = decoded.sequence
        frame = await run_blocking(burned_in, decoded, self._state())
        if frame.pts is not None and frame.pts <= self._last_pts:
            frame.pts = self._last_pts + 1  # a reconnected customer restarts the clock
        self._last_pts = frame.pts if frame.pts is not None else self._last_pts
        return frame
