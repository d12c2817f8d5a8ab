"""Where the device is at any moment of a recording, from the ``ar`` summaries of its event log.

One rule, used by exports (burn-in) here and by the browser player in
``client_web/js/outline.js``, which mirrors it; ``tests/data/outline_vectors.json`` holds cases both
are tested against, so they place the outline at the same point between two summaries:

- The summary in force at ``t`` is the last one at or before it. None before the first, when it
  did not find the device, or when it is more than ``STALE_MS`` old: an old summary says nothing
  about where a moving phone is now.
- Between it and the next summary (when that one found the device too, is at most ``STALE_MS``
  later and is of the same frame size) the homography is interpolated linearly, entry by entry,
  after normalising ``H[2][2]`` to 1: at 5 summaries a second the latest one alone lags a moving
  phone by up to 200 ms, an outline sliding behind the device.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.types import FloatArray

from .timeline import ArSummary

STALE_MS = 1000


@dataclass(frozen=True)
class DevicePlace:
    """The device's homography (reference px -> frame px) in a frame of ``frame_size`` at some moment,
    and the step the summary before it named."""

    homography: FloatArray
    frame_size: tuple[int, int]
    step_id: str | None


def _normalised(raw: list[list[float]] | None) -> FloatArray | None:
    if raw is None:
        return None
    try:
        h = np.asarray(raw, dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError):
        return None
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-12:
        return None
    return h / h[2, 2]


class DeviceTrack:
    """The ``ar`` summaries of one recording (sorted by time), asked where the device was."""

    def __init__(self, summaries: Sequence[ArSummary]) -> None:
        self._summaries = sorted(summaries, key=lambda s: s.t_ms)
        self._times = [s.t_ms for s in self._summaries]

    def place_at(self, t_ms: float) -> DevicePlace | None:
        index = bisect.bisect_right(self._times, t_ms) - 1
        if index < 0:
            return None
        before = self._summaries[index]
        h = _normalised(before.homography) if before.found else None
        if h is None or before.frame_size is None or t_ms - before.t_ms > STALE_MS:
            return None
        if index + 1 < len(self._summaries):
            after = self._summaries[index + 1]
            h_after = _normalised(after.homography) if after.found else None
            span = after.t_ms - before.t_ms
            if h_after is not None and 0 < span <= STALE_MS and after.frame_size == before.frame_size:
                alpha = (t_ms - before.t_ms) / span
                h = (1 - alpha) * h + alpha * h_after
        return DevicePlace(h, before.frame_size, before.step_id)
