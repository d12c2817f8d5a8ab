"""``/healthz`` says the process is alive; ``/readyz`` says whether it should be sent new calls."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.web.health_api import recordings_check


def test_a_fresh_server_is_alive_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["recordings"]["ok"] and body["checks"]["recordings"]["free_bytes"] > 0
    assert body["checks"]["registry"] == {"ok": True} and body["checks"]["draining"] == {"ok": True}


def test_a_draining_process_is_not_ready(app: Starlette, client: TestClient) -> None:
    client.portal.call(app.state.services.live.cluster.set_draining)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "draining" in ready.json()["checks"]["draining"]["message"]


def test_a_database_that_does_not_answer_makes_it_not_ready(app: Starlette, client: TestClient) -> None:
    app.state.services.db.engine.dispose()
    app.state.services.db.engine.pool._creator = _refuse  # every new connection fails
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready" and not body["checks"]["database"]["ok"]
    assert "the database does not answer" in body["checks"]["database"]["message"]
    assert client.get("/healthz").status_code == 200  # alive all the same


def _refuse(*_args: object) -> None:
    raise ConnectionRefusedError("connection refused")


def test_a_recordings_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    check = recordings_check(blocker / "recordings")
    assert not check["ok"] and "cannot be written" in check["message"]


def test_a_nearly_full_disk_is_named(tmp_path: Path) -> None:
    check = recordings_check(tmp_path, min_free_bytes=1 << 62)
    assert not check["ok"] and "MiB free" in check["message"] and check["free_bytes"] > 0
