"""procedure.yaml: what loads, and what an author is told when a file is wrong.

Every bad file is written to a real folder and loaded with ``load_procedure``; the message must
name the file, the step (by its id) and the field, so the author can find the line to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from procedures import ProcedureLoadError, load_procedure
from tests.procedures.helpers import good_procedure, write_procedure
from vision.annotations import Circle, Rect
from vision.markers import repair_mat_layout
from vision.steps import TouchRule, VisibleRule


def load_error(folder: Path) -> ProcedureLoadError:
    with pytest.raises(ProcedureLoadError) as caught:
        load_procedure(folder)
    error = caught.value
    assert error.path == folder / "procedure.yaml"
    assert str(error).startswith(f"{folder / 'procedure.yaml'}: ")
    return error


def test_a_good_procedure_loads_with_its_rules_and_annotations(tmp_path: Path) -> None:
    loaded = load_procedure(write_procedure(tmp_path, good_procedure()))
    assert loaded.id == "reseat-j5"
    assert loaded.step_ids() == ("locate", "press", "check")
    assert loaded.reference_size == (640, 480)
    assert loaded.reference_bgr().shape == (480, 640, 3)
    assert loaded.step_rule("locate") is None
    assert loaded.step_rule("press") == TouchRule(
        ((527.0, 152.0), (583.0, 152.0), (583.0, 194.0), (527.0, 194.0)), dwell_ms=1500
    )
    assert loaded.step_rule("check") == VisibleRule(duration_ms=800)
    assert loaded.step_annotations("locate") == (Rect(((527.0, 152.0), (583.0, 194.0)), "J5"),)
    assert loaded.step_annotations("check") == (Circle((413.0, 115.0), 14.0),)
    assert loaded.mat_layout() is None and loaded.mat_pdf() is None


def test_defaults_of_the_rules_are_vision_s(tmp_path: Path) -> None:
    data = good_procedure()
    del data["steps"][1]["completion"]["dwell_ms"]
    data["steps"][2]["completion"] = {"kind": "visible"}
    loaded = load_procedure(write_procedure(tmp_path, data))
    assert isinstance(loaded.step_rule("press"), TouchRule)
    assert loaded.to_json()["steps"][1]["completion"] == {"kind": "touch", "dwell_ms": 1500}
    assert loaded.to_json()["steps"][2]["completion"] == {"kind": "visible", "duration_ms": 1000}


def test_to_json_is_what_clients_are_promised(tmp_path: Path) -> None:
    body = load_procedure(write_procedure(tmp_path, good_procedure())).to_json()
    assert body["id"] == "reseat-j5"
    assert body["device"] == {
        "model": "Sound card",
        "anchor": "features",
        "reference_url": "/api/procedures/reseat-j5/reference",
        "reference_size": [640, 480],
        "mat_url": None,
    }
    press = body["steps"][1]
    assert press["safety"] == ["Unplug the power first."]
    assert press["target"] == {
        "polygon_ref_px": [[527.0, 152.0], [583.0, 152.0], [583.0, 194.0], [527.0, 194.0]]
    }
    assert body["steps"][0]["annotations"] == [
        {"kind": "rect", "ref_px": [[527.0, 152.0], [583.0, 194.0]], "label": "J5"}
    ]
    assert body["steps"][0]["target"] is None and body["steps"][0]["safety"] == []


def test_an_aruco_procedure_without_a_reference_uses_the_rendered_mat(tmp_path: Path) -> None:
    data = good_procedure("on-the-mat")
    data["device"] = {"model": "Router", "anchor": "aruco"}
    data["steps"][1]["target"]["polygon_ref_px"] = [[850, 330], [947, 330], [947, 510]]
    loaded = load_procedure(write_procedure(tmp_path, data, image=False))
    layout = repair_mat_layout()
    assert loaded.mat_layout() == layout
    assert loaded.reference_size == layout.size_px == (1188, 840)
    assert loaded.reference_path() is None
    assert loaded.reference_bgr().shape == (840, 1188, 3)
    pdf = loaded.mat_pdf()
    assert pdf is not None and pdf.startswith(b"%PDF-1.4")
    assert loaded.reference_png().startswith(b"\x89PNG")
    assert loaded.to_json()["device"]["mat_url"] == "/api/procedures/on-the-mat/mat.pdf"


def test_the_shared_reference_pixels_are_read_only(tmp_path: Path) -> None:
    loaded = load_procedure(write_procedure(tmp_path, good_procedure()))
    with pytest.raises(ValueError):
        loaded.reference_bgr()[0, 0, 0] = 1


def test_an_unknown_step_id_names_the_steps_there_are(tmp_path: Path) -> None:
    loaded = load_procedure(write_procedure(tmp_path, good_procedure()))
    with pytest.raises(LookupError, match="has no step 'nope'; its steps are locate, press, check"):
        loaded.step_annotations("nope")


Mutation = Callable[[dict[str, Any]], object]

BAD_FILES: list[tuple[str, Mutation, list[str]]] = [
    (
        "missing instruction",
        lambda d: d["steps"][1].pop("instruction"),
        ["step 'press': instruction: required"],
    ),
    (
        "misspelt field",
        lambda d: d["steps"][1]["completion"].update(dwel_ms=5),
        ["step 'press': completion.dwel_ms: is not a field", "check its spelling"],
    ),
    ("unknown top-level field", lambda d: d.update(author="me"), ["author: is not a field"]),
    (
        "duplicate step ids",
        lambda d: d["steps"][2].update(id="locate"),
        ["steps: step id 'locate' is used twice"],
    ),
    (
        "touch without a target",
        lambda d: d["steps"][1].pop("target"),
        ["step 'press': target: a touch step needs target"],
    ),
    (
        "dwell_ms of zero",
        lambda d: d["steps"][1]["completion"].update(dwell_ms=0),
        ["step 'press': completion.dwell_ms: must be a whole number of milliseconds > 0", "got 0"],
    ),
    (
        "negative dwell_ms",
        lambda d: d["steps"][1]["completion"].update(dwell_ms=-5),
        ["step 'press': completion.dwell_ms: must be", "got -5"],
    ),
    (
        "dwell_ms as text",
        lambda d: d["steps"][1]["completion"].update(dwell_ms="2s"),
        ["step 'press': completion.dwell_ms: must be", "got '2s'"],
    ),
    (
        "dwell_ms on a visible step",
        lambda d: d["steps"][2]["completion"].update(dwell_ms=100),
        ["step 'check': completion: dwell_ms: only a touch step has dwell_ms"],
    ),
    (
        "an annotation corner outside the reference",
        lambda d: d["steps"][0]["annotations"][0].update(ref_px=[[527, 152], [700, 194]]),
        [
            "step 'locate': annotations[0].ref_px[1]: [700, 194] lies outside the reference image board.jpg",
            "640x480 px",
        ],
    ),
    (
        "a target point outside the reference",
        lambda d: d["steps"][1]["target"].update(polygon_ref_px=[[0, 0], [10, -100], [0, 10]]),
        ["step 'press': target.polygon_ref_px[1]: [10, -100] lies outside the reference image"],
    ),
    (
        "a circle centre outside the reference",
        lambda d: d["steps"][2]["annotations"][0].update(centre_ref_px=[2000, 100]),
        ["step 'check': annotations[0].centre_ref_px: [2000, 100] lies outside"],
    ),
    (
        "a bad annotation kind",
        lambda d: d["steps"][0]["annotations"][0].update(kind="square"),
        ["step 'locate': annotations[0]: annotation.kind: expected rect, circle, arrow", "'square'"],
    ),
    (
        "an annotation with a broken point",
        lambda d: d["steps"][0]["annotations"].append({"kind": "arrow", "from_ref_px": [1, 2]}),
        ["step 'locate': annotations[1]: arrow.to_ref_px: expected [x, y], got None"],
    ),
    (
        "a target point that is not a number",
        lambda d: d["steps"][1]["target"].update(polygon_ref_px=[[0, 0], ["a", 0], [0, 10]]),
        ["step 'press': target.polygon_ref_px[1][0]: coordinates must be finite numbers", "got 'a'"],
    ),
    (
        "a target of two points",
        lambda d: d["steps"][1]["target"].update(polygon_ref_px=[[0, 0], [0, 10]]),
        ["step 'press': target.polygon_ref_px: List should have at least 3 items"],
    ),
    ("an id that is not a slug", lambda d: d.update(id="Reseat_J5"), ["id: 'Reseat_J5' is not a valid id"]),
    ("no steps", lambda d: d.update(steps=[]), ["steps: List should have at least 1 item"]),
    (
        "a step without an id",
        lambda d: d["steps"][1].pop("id"),
        ["steps[1] (step number 2): id: required"],
    ),
    ("an unknown anchor", lambda d: d["device"].update(anchor="qr"), ["device.anchor: Input should be"]),
    (
        "a features procedure without a reference",
        lambda d: d["device"].pop("reference"),
        ["device: reference: anchor 'features' needs a reference photo"],
    ),
    (
        "a reference path outside the folder",
        lambda d: d["device"].update(reference="../board.jpg"),
        ["device.reference: '../board.jpg': give the file name of an image beside procedure.yaml"],
    ),
    (
        "a missing reference image",
        lambda d: d["device"].update(reference="photo.jpg"),
        ["device.reference: 'photo.jpg' is not a file in"],
    ),
    (
        "a mat on a features procedure",
        lambda d: d["device"].update(mat="default"),
        ["device: mat: only an 'aruco' procedure has a mat"],
    ),
    (
        "safety as text, not a list",
        lambda d: d["steps"][1].update(safety="unplug it"),
        ["step 'press': safety: Input should be a valid list", "got 'unplug it'"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in BAD_FILES], ids=[n for n, _, _ in BAD_FILES]
)
def test_a_bad_file_is_refused_naming_the_step_and_field(
    tmp_path: Path, mutate: Mutation, expected: list[str]
) -> None:
    data = good_procedure()
    mutate(data)
    error = load_error(write_procedure(tmp_path, data, folder="reseat-j5"))
    for text in expected:
        assert text in error.message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    data = good_procedure()
    data["steps"][1]["completion"]["dwell_ms"] = 0
    data["steps"][2]["title"] = ""
    message = load_error(write_procedure(tmp_path, data)).message
    assert "step 'press': completion.dwell_ms" in message
    assert "step 'check': title: String should have at least 1 character" in message


def test_the_id_must_equal_the_folder_name(tmp_path: Path) -> None:
    error = load_error(write_procedure(tmp_path, good_procedure(), folder="reseat-j6"))
    assert error.message == "id: 'reseat-j5' must equal the folder name 'reseat-j6'; rename one of them"


def test_an_unreadable_reference_image_is_refused(tmp_path: Path) -> None:
    folder = write_procedure(tmp_path, good_procedure())
    (folder / "board.jpg").write_bytes(b"not a jpeg")
    assert "device.reference: board.jpg could not be read as an image" in load_error(folder).message


def test_an_aruco_reference_must_have_the_mat_s_size(tmp_path: Path) -> None:
    data = good_procedure()
    data["device"] = {"model": "Router", "anchor": "aruco", "reference": "board.jpg"}
    message = load_error(write_procedure(tmp_path, data)).message
    assert "device.reference: board.jpg is 640x480 px but the default mat is 1188x840 px" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- id: a\n- id: b\n", "the file is a list; it must be a mapping with id, title, device and steps"),
        ("just words\n", "the file is a str; it must be a mapping"),
        ("", "the file is empty; it must be a mapping"),
        ("id: x\nsteps: [\n  - a\n", "invalid YAML at line 3, column 3: expected the node content"),
        ("id: x\n\ttitle: y\n", "invalid YAML at line 2, column 1"),
        (
            "id: !!python/object:os.system ls\n",
            "invalid YAML at line 1, column 5: could not determine a constructor",
        ),  # safe_load
    ],
)
def test_a_file_that_is_not_a_procedure_mapping(tmp_path: Path, text: str, expected: str) -> None:
    error = load_error(write_procedure(tmp_path, None, folder="x", text=text))
    assert expected in error.message


def test_a_folder_without_procedure_yaml(tmp_path: Path) -> None:
    with pytest.raises(ProcedureLoadError, match=r"no procedure\.yaml here"):
        load_procedure(tmp_path)
