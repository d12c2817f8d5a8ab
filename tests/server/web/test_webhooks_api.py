"""``/api/webhooks``: admins only; the secret is answered once (made, or rotated) and never listed;
lists are paged; wrong input gets a message that says what to send."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

URL = "https://crm.example/hooks/repairsight"


def make(admin: TestClient, **body: Any) -> dict[str, Any]:
    made = admin.post("/api/webhooks", json={"url": URL, **body})
    assert made.status_code == 201, made.text
    return made.json()


def error_of(answer: Any) -> str:
    return str(answer.json()["error"]["message"])


def test_an_endpoint_is_made_with_its_secret_once_and_listed_without_it(admin_client: TestClient) -> None:
    made = admin_client.post(
        "/api/webhooks",
        json={"url": URL, "event_types": ["case.closed", "case.created"], "description": "CRM"},
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    assert hook["event_types"] == ["case.created", "case.closed"]  # in the documented order
    listed = admin_client.get("/api/webhooks").json()
    assert listed["total"] == 1 and listed["next_cursor"] is None
    assert listed["webhooks"] == [{k: v for k, v in hook.items() if k != "secret"}]
    assert admin_client.get(f"/api/webhooks/{hook['id']}").json() == listed["webhooks"][0]


def test_endpoints_are_listed_in_pages(admin_client: TestClient) -> None:
    made = [make(admin_client, description=f"hook {n}")["id"] for n in range(3)]
    first = admin_client.get("/api/webhooks?limit=2").json()
    assert [w["id"] for w in first["webhooks"]] == made[:2] and first["total"] == 3
    second = admin_client.get(f"/api/webhooks?limit=2&cursor={first['next_cursor']}").json()
    assert [w["id"] for w in second["webhooks"]] == made[2:] and second["next_cursor"] is None


def test_an_endpoint_is_changed_its_secret_rotated_and_it_is_deleted(admin_client: TestClient) -> None:
    hook = make(admin_client)
    changed = admin_client.patch(f"/api/webhooks/{hook['id']}", json={"enabled": False, "event_types": []})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False and changed.json()["secret"] is None
    rotated = admin_client.patch(f"/api/webhooks/{hook['id']}", json={"rotate_secret": True}).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    admin_client.post("/api/cases", json={"title": "not sent: disabled"})
    assert admin_client.get(f"/api/webhooks/{hook['id']}/deliveries").json()["deliveries"] == []
    assert admin_client.delete(f"/api/webhooks/{hook['id']}").status_code == 204
    gone = admin_client.get(f"/api/webhooks/{hook['id']}")
    assert gone.status_code == 404 and "GET /api/webhooks" in error_of(gone)


def test_deleting_an_endpoint_takes_its_deliveries_and_log(admin_client: TestClient) -> None:
    hook = make(admin_client, url="http://127.0.0.1:9/nobody")
    admin_client.post("/api/cases", json={"title": "queued"})
    assert len(admin_client.get(f"/api/webhooks/{hook['id']}/deliveries").json()["deliveries"]) == 1
    assert admin_client.delete(f"/api/webhooks/{hook['id']}").status_code == 204
    assert admin_client.get(f"/api/webhooks/{hook['id']}/deliveries").status_code == 404


def test_only_admins_may(client: TestClient, expert_client: TestClient) -> None:
    assert client.get("/api/webhooks").status_code == 401
    assert expert_client.get("/api/webhooks").status_code == 403
    assert expert_client.post("/api/webhooks", json={"url": URL}).status_code == 403


def test_wrong_input_says_what_to_send(admin_client: TestClient) -> None:
    for url in ("crm.example/hook", "ftp://crm.example/hook", "https://", "http://[::1/x", "http://a\x00b/"):
        answer = admin_client.post("/api/webhooks", json={"url": url})
        assert answer.status_code == 422 and "absolute http:// or https:// URL" in error_of(answer), url
    secret_in_url = admin_client.post("/api/webhooks", json={"url": "https://me:pw@crm.example/"})
    assert secret_in_url.status_code == 422 and "no user or password" in error_of(secret_in_url)
    unknown = admin_client.post("/api/webhooks", json={"url": URL, "event_types": ["case.deleted"]})
    assert unknown.status_code == 422 and "event_types" in unknown.text
    misspelt = admin_client.post("/api/webhooks", json={"url": URL, "enabeld": False})
    assert misspelt.status_code == 422
    hook = make(admin_client)
    bad_patch = admin_client.patch(f"/api/webhooks/{hook['id']}", json={"url": "nope"})
    assert bad_patch.status_code == 422
    assert admin_client.get(f"/api/webhooks/{hook['id']}").json()["url"] == URL  # unchanged
    missing = admin_client.post(f"/api/webhooks/{hook['id']}/deliveries/msg_nope/redeliver")
    assert missing.status_code == 404 and "GET /api/webhooks/" in error_of(missing)
    assert admin_client.get("/api/webhooks/nope/deliveries").status_code == 404
