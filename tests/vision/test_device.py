"""When the follower searches: every frame while lost by default is too slow, so every Nth frame."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vision.conftest import image, make_clip, timestamp_ms
from vision.device import DeviceFollower, FollowOptions
from vision.features import FeatureLocator, to_gray
from vision.types import ImageArray, Location

BLANK = np.zeros((480, 640), np.uint8)


class CountingLocator:
    """A feature locator that records the frames it was asked to search."""

    def __init__(self, reference: ImageArray) -> None:
        self._inner = FeatureLocator(reference)
        self.reference_gray = self._inner.reference_gray
        self.reference_size = self._inner.reference_size
        self.calls = 0

    def locate(self, frame_gray: ImageArray) -> Location:
        self.calls += 1
        return self._inner.locate(frame_gray)


def _searched_frames(options: FollowOptions, frames: int) -> tuple[list[int], list[Location]]:
    locator = CountingLocator(image("board.jpg"))
    follower = DeviceFollower(locator, options)
    searched, locations = [], []
    for index in range(frames):
        before = locator.calls
        locations.append(follower.update(BLANK, timestamp_ms(index)))
        if locator.calls > before:
            searched.append(index)
    return searched, locations


@pytest.mark.parametrize("every", [1, 2, 3, 4])
def test_while_lost_the_detector_runs_every_nth_frame(every: int) -> None:
    searched, locations = _searched_frames(FollowOptions(lost_detect_every=every), 12)
    assert searched == list(range(0, 12, every))
    assert not any(loc.found for loc in locations)
    skipped = [loc for i, loc in enumerate(locations) if i not in searched]
    assert all(
        loc.reason.startswith("not searched") and "features in the frame" in loc.reason for loc in skipped
    )


@pytest.mark.parametrize(
    "options",
    [
        FollowOptions(detect_every=1, track=False, lost_detect_every=3),  # the accuracy baseline
        FollowOptions(detect_every=15, track=False, lost_detect_every=3),  # no tracking: always search
        FollowOptions(detect_every=1, lost_detect_every=3),  # never less often than detect_every
    ],
)
def test_the_baseline_still_searches_every_frame(options: FollowOptions) -> None:
    searched, _ = _searched_frames(options, 9)
    assert searched == list(range(9))


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("absent", [10, 11, 12])
def test_a_device_coming_into_view_is_found_within_n_minus_1_frames(every: int, absent: int) -> None:
    clip = make_clip("board_over_leuven")
    follower = DeviceFollower(FeatureLocator(clip.reference), FollowOptions(lost_detect_every=every))
    first_found = None
    for index in range(absent + 8):
        gray = BLANK if index < absent else to_gray(clip.camera.frame(index).bgr)
        if follower.update(gray, timestamp_ms(index)).found and first_found is None:
            first_found = index
    assert first_found is not None
    assert absent <= first_found <= absent + every - 1


def test_the_lost_interval_is_checked() -> None:
    with pytest.raises(ValueError, match="lost_detect_every"):
        FollowOptions(lost_detect_every=0)
