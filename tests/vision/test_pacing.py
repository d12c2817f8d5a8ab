"""FramePacer: a stage's frames at a lower rate than the camera's, by media time."""

from __future__ import annotations

import pytest

from vision.pacing import FramePacer


def taken(pacer: FramePacer, stamps: list[int]) -> list[int]:
    return [t for t in stamps if pacer.take(t)]


def test_every_third_frame_of_30_fps_at_10_fps() -> None:
    stamps = [round(i * 1000 / 30) for i in range(30)]
    assert taken(FramePacer(10), stamps) == stamps[::3]


def test_jitter_does_not_skip_a_frame() -> None:
    jittered = [0, 36, 64, 96, 138, 166, 196, 232, 266, 300]  # 30 fps, +-6 ms
    assert taken(FramePacer(10), jittered) == [0, 96, 196, 300]


def test_at_or_above_the_stream_rate_every_frame_is_taken() -> None:
    stamps = [round(i * 1000 / 30) for i in range(10)]
    assert taken(FramePacer(30), stamps) == stamps
    assert taken(FramePacer(None), stamps) == stamps


def test_a_stream_that_starts_again_is_taken_at_once() -> None:
    pacer = FramePacer(5)
    assert taken(pacer, [1000, 1033, 20, 53, 233]) == [1000, 20, 233]


def test_a_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="fps"):
        FramePacer(0)
