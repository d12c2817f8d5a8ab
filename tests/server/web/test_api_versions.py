"""``/api/v1/...`` serves every API route; the unversioned paths still work, marked deprecated."""

from __future__ import annotations

from starlette.testclient import TestClient

from server.web.api_versions import UNVERSIONED_UNTIL


def test_v1_and_the_old_paths_give_the_same_answers(expert_client: TestClient) -> None:
    created = expert_client.post("/api/v1/cases", json={"title": "Through v1"})
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    old = expert_client.get(f"/api/cases/{case_id}")
    new = expert_client.get(f"/api/v1/cases/{case_id}")
    assert old.status_code == new.status_code == 200 and old.json() == new.json()
    assert "deprecation" not in new.headers and "sunset" not in new.headers
    assert old.headers["sunset"] == UNVERSIONED_UNTIL and old.headers["deprecation"].startswith("@")
    assert 'rel="successor-version"' in old.headers["link"]


def test_errors_and_unknown_paths_behave_alike(client: TestClient) -> None:
    assert client.get("/api/v1/me").status_code == client.get("/api/me").status_code == 401
    assert client.get("/api/v1/no-such-thing").status_code == 404
    assert client.get("/healthz").status_code == 200 and "sunset" not in client.get("/healthz").headers
