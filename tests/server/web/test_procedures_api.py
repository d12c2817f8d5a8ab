"""GET /api/procedures..., the procedure_id of cases, and ``serve --procedures DIR``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.cli import main
from server.config import Settings
from tests.procedures.helpers import BOARD_JPG, good_procedure, write_procedure


def extra_library(root: Path) -> Path:
    """A directory with one good procedure ("reseat-j5") and one broken one ("broken-one")."""
    write_procedure(root, good_procedure("reseat-j5"))
    broken = good_procedure("broken-one")
    del broken["steps"][1]["target"]
    write_procedure(root, broken)
    return root


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """Record the uvicorn configuration instead of listening on a port (as in test_cli.py)."""
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: configs.append(server.config))
    return configs


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", secret_key="test", procedure_dirs=(extra_library(tmp_path / "extra"),)
    )


def test_the_list_has_summaries_and_load_errors(expert_client: TestClient, tmp_path: Path) -> None:
    response = expert_client.get("/api/procedures")
    assert response.status_code == 200
    body = response.json()
    ids = [p["id"] for p in body["procedures"]]
    assert {"board-connector-reseat", "router-cable-reseat", "reseat-j5"} <= set(ids)
    assert "broken-one" not in ids
    board = next(p for p in body["procedures"] if p["id"] == "board-connector-reseat")
    assert board == {
        "id": "board-connector-reseat",
        "title": "Reseat the J5 header cable",
        "device_model": "Creative PCI sound card (sample photo)",
        "anchor": "features",
        "step_count": 4,
    }
    [error] = body["errors"]
    assert error["path"] == str(tmp_path / "extra" / "broken-one" / "procedure.yaml")
    assert error["message"].startswith("step 'press': target: a touch step needs target")


def test_procedures_are_for_staff_only(client: TestClient, trainer_client: TestClient) -> None:
    for path in ("/api/procedures", "/api/procedures/reseat-j5", "/api/procedures/reseat-j5/reference"):
        assert client.get(path).status_code == 401
    assert trainer_client.get("/api/procedures/reseat-j5").status_code == 200


def test_one_procedure_as_json(expert_client: TestClient) -> None:
    body = expert_client.get("/api/procedures/router-cable-reseat").json()
    assert body["device"] == {
        "model": "Any home router or small box",
        "anchor": "aruco",
        "reference_url": "/api/procedures/router-cable-reseat/reference",
        "reference_size": [1188, 840],
        "mat_url": "/api/procedures/router-cable-reseat/mat.pdf",
    }
    assert [s["id"] for s in body["steps"]] == ["place-device", "point-at-cable", "reseat-plug"]
    touch = body["steps"][1]
    assert touch["completion"] == {"kind": "touch", "dwell_ms": 1000}
    assert len(touch["target"]["polygon_ref_px"]) == 4


def test_the_reference_image_of_a_features_procedure_is_its_file(expert_client: TestClient) -> None:
    response = expert_client.get("/api/procedures/board-connector-reseat/reference")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content == BOARD_JPG.read_bytes()


def test_the_reference_of_a_mat_procedure_is_the_rendered_mat(expert_client: TestClient) -> None:
    response = expert_client.get("/api/procedures/router-cable-reseat/reference")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (840, 1188, 3)


def test_the_mat_pdf(expert_client: TestClient) -> None:
    response = expert_client.get("/api/procedures/router-cable-reseat/mat.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-1.4") and response.content.rstrip().endswith(b"%%EOF")
    # A4 landscape at true size, in points
    assert b"/MediaBox [0 0 841.890 595.276]" in response.content


def test_a_features_procedure_has_no_mat(expert_client: TestClient) -> None:
    response = expert_client.get("/api/procedures/board-connector-reseat/mat.pdf")
    assert response.status_code == 404
    assert "has no mat to print" in response.json()["error"]["message"]


@pytest.mark.parametrize("suffix", ["", "/reference", "/mat.pdf"])
def test_an_unknown_procedure_is_404(expert_client: TestClient, suffix: str) -> None:
    response = expert_client.get(f"/api/procedures/broken-one{suffix}")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "there is no procedure 'broken-one'; see GET /api/procedures",
        }
    }


def test_a_case_with_an_unknown_procedure_is_refused(expert_client: TestClient) -> None:
    response = expert_client.post("/api/cases", json={"title": "No sound", "procedure_id": "broken-one"})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert message.startswith("procedure_id: there is no procedure 'broken-one'")
    assert expert_client.get("/api/cases").json()["cases"] == []


def test_a_case_with_a_known_procedure_and_patches_of_it(expert_client: TestClient) -> None:
    created = expert_client.post("/api/cases", json={"title": "No sound", "procedure_id": "reseat-j5"})
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    assert created.json()["procedure_id"] == "reseat-j5"
    refused = expert_client.patch(f"/api/cases/{case_id}", json={"procedure_id": "nope"})
    assert refused.status_code == 422
    assert "there is no procedure 'nope'" in refused.json()["error"]["message"]
    assert expert_client.get(f"/api/cases/{case_id}").json()["procedure_id"] == "reseat-j5"
    changed = expert_client.patch(f"/api/cases/{case_id}", json={"procedure_id": "router-cable-reseat"})
    assert changed.status_code == 200 and changed.json()["procedure_id"] == "router-cable-reseat"
    cleared = expert_client.patch(f"/api/cases/{case_id}", json={"procedure_id": None})
    assert cleared.status_code == 200 and cleared.json()["procedure_id"] is None
    # a patch that does not touch procedure_id is not checked against the library
    assert expert_client.patch(f"/api/cases/{case_id}", json={"notes": "ok"}).status_code == 200


def test_serve_loads_procedure_dirs_and_reports_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
) -> None:
    extra = extra_library(tmp_path / "extra")
    assert main(["serve", "--data-dir", str(tmp_path / "data"), "--procedures", str(extra)]) == 0
    err = capsys.readouterr().err
    assert "Loaded 3 procedure(s): board-connector-reseat, reseat-j5, router-cable-reseat" in err
    broken = extra / "broken-one" / "procedure.yaml"
    assert f"Procedure not loaded: {broken}: step 'press': target: a touch step needs target" in err
    [config] = no_uvicorn
    assert isinstance(config.app, Starlette)
    assert config.app.state.services.settings.procedure_dirs == (extra,)
    assert "reseat-j5" in config.app.state.services.procedures


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_serve_refuses_a_procedures_option_that_is_not_a_directory(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
    kind: str,
) -> None:
    given = tmp_path / "procs"
    if kind == "file":
        given.write_text("")
    assert main(["serve", "--data-dir", str(tmp_path / "data"), "--procedures", str(given)]) == 2
    expected = "is a file, not a directory" if kind == "file" else "no such directory"
    assert f"repairsight: error: --procedures {given}: {expected}" in capsys.readouterr().err
    assert no_uvicorn == []
