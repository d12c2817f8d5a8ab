"""Which frames of a stream a stage takes, at a rate lower than the camera's.

A live session's vision does not need every frame: the pages carry the overlay from the frame
vision worked on to the frame on screen (docs/ar-in-the-page.md), and a step's rule needs a few
looks a second. :class:`FramePacer` takes a frame when at least one period of media time has
passed since the last frame it took, less half a frame, so a 30 fps stream paced at 10 fps gives
exactly every third frame and jitter in the timestamps does not skip one. Media time, not the
clock: the same stream is paced the same way however late its frames arrive.
"""

from __future__ import annotations

SLACK_MS = 17  # half a frame at 30 fps


class FramePacer:
    """``take(timestamp_ms)`` says whether this frame is due; ``fps`` None takes every frame."""

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be > 0 or None, got {fps}")
        self.fps = fps
        self._last_ms: int | None = None

    def take(self, timestamp_ms: int) -> bool:
        if self.fps is None:
            return True
        last = self._last_ms
        # A stream that starts again (its clock went back) is taken at once.
        if last is None or timestamp_ms < last or timestamp_ms - last >= 1000 / self.fps - SLACK_MS:
            self._last_ms = timestamp_ms
            return True
        return False

    def reset(self) -> None:
        self._last_ms = None
