"""Hands: the real photos give the counts and handedness listed in tests/data/SOURCE.md."""

from __future__ import annotations

import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest

from tests.vision.conftest import image
from vision.hands import (
    DEFAULT_MODEL,
    LITE_MODEL,
    MODEL_ENV_VAR,
    HandLandmark,
    HandModelMissingError,
    HandsOptions,
    HandTracker,
    resolve_model_path,
)

needs_model = pytest.mark.skipif(
    not (DEFAULT_MODEL.is_file() and LITE_MODEL.is_file()),
    reason="hand model bundles missing: build them with scripts/install.sh "
    "(or python scripts/build_hand_model.py)",
)

# (handedness of each hand, sorted) per photo; "Left" is the person's own left hand.
EXPECTED = {
    "one_hand_call_1d65a858.jpg": ["Right"],
    "two_hands_00c84257.jpg": ["Left", "Right"],
    "two_hands_call_17d804b5.jpg": ["Left", "Right"],
    "one_hand_open_palm_15a73593.jpg": ["Left"],
    "one_hand_rock_0cc7ad09.jpg": ["Right"],
    "one_hand_pointing_up_0a4bc2da.jpg": ["Left"],
    "one_hand_flat_0a038096.jpg": ["Right"],
    "hard_small_distant_hand_25bb4c45.jpg": [],
    "no_hands_figurine_37ca2a3d.jpg": [],
}
WRIST_TOLERANCE = 0.03  # normalised image units, as in the source's suggested assertions
EXPECTED_WRIST = {"one_hand_call_1d65a858.jpg": (0.39, 0.64), "one_hand_open_palm_15a73593.jpg": (0.71, 0.66)}


@needs_model
@pytest.mark.parametrize("lite", [False, True], ids=["full", "lite"])
@pytest.mark.parametrize("name", EXPECTED)
def test_photo_hand_count_and_handedness(name: str, lite: bool) -> None:
    photo = image(f"hands/{name}")
    with HandTracker(HandsOptions(lite=lite)) as tracker:
        hands = tracker.detect(photo, 0)
    assert sorted(h.handedness for h in hands) == EXPECTED[name]
    height, width = photo.shape[:2]
    for hand in hands:
        assert hand.landmarks_frame_px.shape == (21, 2)
        assert 0.5 <= hand.score <= 1.0
        inside = (hand.landmarks_frame_px > -0.1 * width).all() and (
            hand.landmarks_frame_px[:, 1] < 1.1 * height
        ).all()
        assert inside
    if name in EXPECTED_WRIST:
        wrist = hands[0].landmarks_frame_px[HandLandmark.WRIST]
        normalised = (wrist + 0.5) / [width, height]
        assert np.abs(normalised - EXPECTED_WRIST[name]).max() <= WRIST_TOLERANCE


@needs_model
def test_timestamps_must_increase() -> None:
    photo = image("hands/one_hand_rock_0cc7ad09.jpg")
    with HandTracker() as tracker:
        tracker.detect(photo, 100)
        with pytest.raises(ValueError, match="not after the previous frame"):
            tracker.detect(photo, 100)


def test_missing_model_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(HandModelMissingError, match=r"scripts/install\.sh"):
        HandTracker(HandsOptions(model_path=tmp_path / "absent.task"))


def test_model_path_comes_from_argument_then_env_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, from_env = tmp_path / "a.task", tmp_path / "b.task"
    explicit.write_bytes(b"x")
    from_env.write_bytes(b"x")
    monkeypatch.setenv(MODEL_ENV_VAR, str(from_env))
    assert resolve_model_path(HandsOptions(model_path=explicit)) == explicit
    assert resolve_model_path(HandsOptions()) == from_env
    monkeypatch.delenv(MODEL_ENV_VAR)
    expect_missing = pytest.raises(HandModelMissingError) if not DEFAULT_MODEL.is_file() else nullcontext()
    with expect_missing:
        assert resolve_model_path(HandsOptions()) == DEFAULT_MODEL


def test_importing_vision_does_not_load_mediapipe() -> None:
    code = "import sys, vision, vision.pipeline, vision.cli; assert 'mediapipe' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
