"""ArUco: real photos (right ids, none invented), the printable mat, and accuracy on a generated clip."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.vision.conftest import (
    CORNER_MEDIAN_TOLERANCE_PX,
    CORNER_P95_TOLERANCE_PX,
    MIN_FOUND_FRAC,
    corner_errors,
    image,
    make_clip,
    timestamp_ms,
)
from vision.device import DeviceFollower, FollowOptions
from vision.features import to_gray
from vision.markers import (
    MarkerLocator,
    detect_markers,
    layout_from_image,
    marker_detector,
    render_mat,
    repair_mat_layout,
    write_mat_pdf,
)

CHARUCO_IDS = list(range(17))
A4_LANDSCAPE_PT = (841.89, 595.28)
PAGE_SIZE_TOLERANCE_PT = 0.5


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("singlemarkersoriginal.jpg", [23, 40, 62, 98, 124, 203]),
        ("choriginal.jpg", CHARUCO_IDS),
        ("charuco_img_00.jpg", CHARUCO_IDS),
        ("charuco_img_02.jpg", CHARUCO_IDS),
        ("charuco_img_03.jpg", CHARUCO_IDS),
    ],
)
def test_real_photos_give_exactly_the_printed_ids(name: str, ids: list[int]) -> None:
    found = detect_markers(image(name), marker_detector("DICT_6X6_250"))
    assert [m.marker_id for m in found] == ids


def test_occluded_board_gives_only_real_ids() -> None:
    found = [
        m.marker_id
        for m in detect_markers(image("chocclusion_original.jpg"), marker_detector("DICT_6X6_250"))
    ]
    assert len(found) == 13 and set(found) <= set(CHARUCO_IDS)


@pytest.mark.parametrize("name", ["board.jpg", "stuff.jpg", "graf1.png", "leuvenA.jpg"])
def test_no_markers_invented_in_photos_without_markers(name: str) -> None:
    assert detect_markers(image(name), marker_detector("DICT_6X6_250")) == []


def test_unknown_dictionary_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ArUco dictionary"):
        marker_detector("DICT_7X7_42")


def test_rendered_mat_has_every_layout_marker_where_the_layout_says() -> None:
    layout = repair_mat_layout()
    found = detect_markers(render_mat(layout), marker_detector(layout.dictionary))
    assert [m.marker_id for m in found] == sorted(layout.markers)
    for marker in found:
        assert corner_errors(marker.corners_frame_px, layout.corners_of(marker.marker_id)).max() < 0.5


def test_mat_pdf_is_a4_landscape(tmp_path: Path) -> None:
    out = tmp_path / "mat.pdf"
    write_mat_pdf(repair_mat_layout(), out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert box is not None
    assert abs(float(box.group(1)) - A4_LANDSCAPE_PT[0]) < PAGE_SIZE_TOLERANCE_PT
    assert abs(float(box.group(2)) - A4_LANDSCAPE_PT[1]) < PAGE_SIZE_TOLERANCE_PT


@pytest.mark.parametrize(
    "options",
    [FollowOptions(detect_every=1, track=False, smooth=False), FollowOptions()],
    ids=["detect", "track"],
)
def test_mat_clip_accuracy(options: FollowOptions) -> None:
    clip = make_clip("mat_over_stuff")
    follower = DeviceFollower(MarkerLocator(repair_mat_layout()), options)
    errors, found = [], 0
    for frame in clip.frames():
        location = follower.update(to_gray(frame.bgr), timestamp_ms(frame.index))
        if location.found:
            found += 1
            assert location.corners_frame_px is not None
            errors.extend(corner_errors(location.corners_frame_px, frame.corners_frame_px))
    assert found >= MIN_FOUND_FRAC * clip.camera.num_frames
    assert np.median(errors) <= CORNER_MEDIAN_TOLERANCE_PX
    assert np.percentile(errors, 95) <= CORNER_P95_TOLERANCE_PX


def test_a_marker_sheet_photo_can_be_the_reference() -> None:
    sheet = image("singlemarkersoriginal.jpg")
    locator = MarkerLocator(layout_from_image(sheet), sheet)
    location = locator.locate(to_gray(sheet))
    assert location.found and location.homography is not None
    assert np.allclose(location.homography, np.eye(3), atol=1e-3)


def test_markers_of_other_ids_do_not_locate_the_mat() -> None:
    # The single-markers sheet uses ids 23..203; the standard mat uses 0..9.
    location = MarkerLocator(repair_mat_layout()).locate(
        cv2.cvtColor(image("singlemarkersoriginal.jpg"), cv2.COLOR_BGR2GRAY)
    )
    assert not location.found
    assert "mat markers visible" in location.reason
