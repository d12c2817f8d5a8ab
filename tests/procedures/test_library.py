"""The shipped library, and libraries of several directories with broken and duplicate procedures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from procedures import BUILTIN_LIBRARY, ProcedureLibrary
from tests.procedures.helpers import BOARD_JPG, good_procedure, write_procedure
from vision.features import FeatureLocator, to_gray
from vision.markers import MarkerLocator, render_mat
from vision.pipeline import ARPipeline
from vision.projection import project_annotations

# The board photo is located in a warped copy of itself; the outline must land this close.
CORNER_TOLERANCE_PX = 3.0


@pytest.fixture(scope="module")
def shipped() -> ProcedureLibrary:
    return ProcedureLibrary.load([BUILTIN_LIBRARY])


def test_the_shipped_library_loads_without_errors(shipped: ProcedureLibrary) -> None:
    assert [str(e) for e in shipped.errors] == []
    assert {"board-connector-reseat", "router-cable-reseat"} <= set(shipped.procedures)
    board = shipped.procedures["board-connector-reseat"]
    assert board.anchor == "features" and len(board.step_ids()) >= 3
    kinds = {board.step(s).completion.kind for s in board.step_ids()}
    assert "touch" in kinds and kinds & {"visible", "manual"}
    assert shipped.procedures["router-cable-reseat"].anchor == "aruco"


def test_every_shipped_folder_has_its_attribution(shipped: ProcedureLibrary) -> None:
    for procedure in shipped.procedures.values():
        assert (procedure.folder / "SOURCE.md").is_file() or (procedure.folder / "README.md").is_file()
    source = (shipped.procedures["board-connector-reseat"].folder / "SOURCE.md").read_text()
    assert "2e10e6fe2cc5600f3c605a6af760a34b267b1a46" in source and "Apache-2.0" in source


def test_the_board_reference_is_the_opencv_sample(shipped: ProcedureLibrary) -> None:
    path = shipped.procedures["board-connector-reseat"].reference_path()
    assert path is not None and path.read_bytes() == BOARD_JPG.read_bytes()


@pytest.mark.parametrize("procedure_id", ["board-connector-reseat", "router-cable-reseat"])
def test_pipeline_options_build_a_pipeline_that_finds_the_reference(
    shipped: ProcedureLibrary, procedure_id: str
) -> None:
    procedure = shipped.procedures[procedure_id]
    options = procedure.pipeline_options(hands=False, detect_every=3)
    assert options.detect_every == 3 and not options.hands
    first = procedure.step_ids()[0]
    assert options.annotations == procedure.step_annotations(first)
    assert options.step == procedure.step_rule(first)
    with ARPipeline(options) as pipeline:
        state = pipeline.process(np.array(procedure.reference_bgr()), 0)
    assert state.found, state.reason
    assert len(state.annotations) == len(procedure.step_annotations(first))


def test_the_board_is_found_in_a_warped_photo_of_itself(shipped: ProcedureLibrary) -> None:
    board = shipped.procedures["board-connector-reseat"]
    locator = FeatureLocator(board.reference_bgr())
    photo = cv2.imread(str(BOARD_JPG))
    assert photo is not None
    assert locator.locate(to_gray(photo)).found
    corners = np.array([[0, 0], [639, 0], [639, 479], [0, 479]], dtype=np.float64)
    moved = np.array([[60, 40], [600, 70], [580, 440], [90, 420]], dtype=np.float64)
    truth = cv2.getPerspectiveTransform(corners.astype(np.float32), moved.astype(np.float32))
    frame = cv2.warpPerspective(photo, truth, (700, 500))
    location = locator.locate(to_gray(frame))
    assert location.found, location.reason
    assert location.corners_frame_px is not None and location.homography is not None
    assert np.abs(location.corners_frame_px - moved).max() < CORNER_TOLERANCE_PX
    # and the J5 rectangle of the "find-header" step lands on J5 in the frame
    [j5, *_] = project_annotations(board.step_annotations("find-header"), location.homography)
    expected = cv2.perspectiveTransform(np.array([[[527.0, 152.0]]]), truth)[0, 0]
    assert np.abs(j5.points_frame_px[0] - expected).max() < CORNER_TOLERANCE_PX


def test_the_mat_procedure_is_found_on_the_rendered_mat(shipped: ProcedureLibrary) -> None:
    mat = shipped.procedures["router-cable-reseat"]
    layout = mat.mat_layout()
    assert layout is not None
    location = MarkerLocator(layout).locate(render_mat(layout))
    assert location.found, location.reason


def test_a_broken_procedure_is_reported_and_the_others_load(tmp_path: Path) -> None:
    write_procedure(tmp_path, good_procedure("first-good"))
    broken = good_procedure("broken-one")
    broken["steps"][1]["completion"]["dwell_ms"] = 0
    write_procedure(tmp_path, broken)
    write_procedure(tmp_path, None, folder="not-yaml", text="steps: [\n")
    write_procedure(tmp_path, good_procedure("zz-last-good"))
    (tmp_path / "notes").mkdir()  # a folder without procedure.yaml is not a procedure: skipped
    library = ProcedureLibrary.load([BUILTIN_LIBRARY, tmp_path])
    assert {"first-good", "zz-last-good", "board-connector-reseat"} <= set(library.procedures)
    assert "broken-one" not in library
    assert sorted(str(e.path) for e in library.errors) == [
        str(tmp_path / "broken-one" / "procedure.yaml"),
        str(tmp_path / "not-yaml" / "procedure.yaml"),
    ]
    [dwell] = [e for e in library.errors if e.path.parent.name == "broken-one"]
    assert dwell.message.startswith("step 'press': completion.dwell_ms: must be")
    assert dwell.to_json() == {"path": str(dwell.path), "message": dwell.message}


def test_a_duplicate_id_keeps_the_first_and_names_both_paths(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write_procedure(first, good_procedure("reseat-j5"))
    other = good_procedure("reseat-j5")
    other["title"] = "The second one"
    write_procedure(second, other)
    library = ProcedureLibrary.load([first, second])
    assert library.procedures["reseat-j5"].folder == first / "reseat-j5"
    assert library.procedures["reseat-j5"].spec.title == "Reseat J5"
    [error] = library.errors
    assert error.path == second / "reseat-j5" / "procedure.yaml"
    assert str(first / "reseat-j5" / "procedure.yaml") in error.message
    assert "is already used by" in error.message


def test_a_duplicate_of_a_builtin_id_keeps_the_builtin(tmp_path: Path) -> None:
    data = good_procedure("board-connector-reseat")
    write_procedure(tmp_path, data)
    library = ProcedureLibrary.load([BUILTIN_LIBRARY, tmp_path])
    assert library.procedures["board-connector-reseat"].folder == BUILTIN_LIBRARY / "board-connector-reseat"
    assert [e.path for e in library.errors] == [tmp_path / "board-connector-reseat" / "procedure.yaml"]


def test_directories_that_are_not_libraries_are_errors(tmp_path: Path) -> None:
    procedure_folder = write_procedure(tmp_path, good_procedure())
    library = ProcedureLibrary.load([tmp_path / "missing", procedure_folder])
    assert len(library) == 0
    assert [e.path for e in library.errors] == [tmp_path / "missing", procedure_folder]
    assert "not a directory" in library.errors[0].message
    assert f"give the directory that holds procedure folders (here: {tmp_path})" in library.errors[1].message


def test_summaries_are_sorted_by_title(tmp_path: Path) -> None:
    for procedure_id, title in (("b-proc", "Alpha"), ("a-proc", "Beta")):
        data = good_procedure(procedure_id)
        data["title"] = title
        write_procedure(tmp_path, data)
    library = ProcedureLibrary.load([tmp_path])
    assert library.summaries() == [
        {
            "id": "b-proc",
            "title": "Alpha",
            "device_model": "Sound card",
            "anchor": "features",
            "step_count": 3,
        },
        {
            "id": "a-proc",
            "title": "Beta",
            "device_model": "Sound card",
            "anchor": "features",
            "step_count": 3,
        },
    ]
