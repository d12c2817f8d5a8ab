"""Webhook deliveries end to end: the server (its lifespan's delivery worker) POSTs to a real HTTP
receiver on a local port, signed so the receiver's check (``webhook_signing.verify``) passes; a 500
is retried with the same ``webhook-id`` and the delivery log shows both attempts; a receiver that
hangs costs the API nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.integrations.webhook_delivery import DeliveryOptions
from server.integrations.webhook_signing import verify
from tests.server.integrations.webhook_receiver import Received, receiver, wait_until

# Short waits so a test sees retries; the schedule's shape is test_webhook_outbox's.
FAST = DeliveryOptions(poll_interval_s=0.05, timeout_s=2.0, retry_delays_s=(0.2, 0.2))
# A receiver that hangs far longer than the request timeout; the API must not wait for either.
HANG_S = 6.0
API_CALLS = 5
# Far below one request timeout: the API calls did not wait for a delivery.
API_CALLS_BUDGET_S = 1.5


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(settings, webhooks=FAST)
    yield application
    application.state.services.db.close()


def add_webhook(admin: TestClient, url: str, **body: Any) -> dict[str, Any]:
    made = admin.post("/api/webhooks", json={"url": url, **body})
    assert made.status_code == 201, made.text
    return made.json()


def deliveries(admin: TestClient, webhook_id: str) -> list[dict[str, Any]]:
    answer = admin.get(f"/api/webhooks/{webhook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]


def wait_for_state(admin: TestClient, webhook_id: str, state: str, count: int = 1) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def settled() -> bool:
        found[:] = deliveries(admin, webhook_id)
        return len(found) >= count and all(d["state"] == state for d in found)

    wait_until(settled, 20.0, f"{count} deliveries {state}")
    return found


def checked(request: Received, secret: str) -> dict[str, Any]:
    """The receiver's side: the signature must verify with the endpoint's secret."""
    verify(secret, request.headers, request.body, time.time())
    return json.loads(request.body)


def test_a_new_case_reaches_the_receiver_signed_as_standard_webhooks_says(admin_client: TestClient) -> None:
    with receiver() as crm:
        hook = add_webhook(admin_client, crm.url, event_types=["case.created"])
        assert hook["secret"].startswith("whsec_")
        case = admin_client.post(
            "/api/cases", json={"title": "Phone won't charge", "device_model": "X1", "customer_name": "Bo"}
        ).json()
        [request] = crm.wait_for(1)
        payload = checked(request, hook["secret"])
        assert request.path == "/hooks/repairsight"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
        assert payload["type"] == "case.created"
        assert payload["data"]["case_id"] == case["id"] and payload["data"]["title"] == "Phone won't charge"
        assert "customer_name" not in payload["data"]
        [logged] = wait_for_state(admin_client, hook["id"], "delivered")
        assert logged["id"] == request.headers["webhook-id"] and logged["payload"] == payload
        [attempt] = logged["attempts"]
        assert attempt["status_code"] == 200 and attempt["error"] is None
        # Signed with another secret, the receiver refuses it.
        with pytest.raises(ValueError):
            checked(request, "whsec_" + "A" * 32)


def test_a_500_is_retried_and_the_log_shows_both_attempts(admin_client: TestClient) -> None:
    with receiver(statuses=[500]) as crm:
        hook = add_webhook(admin_client, crm.url, event_types=["case.created"])
        admin_client.post("/api/cases", json={"title": "Retry me"})
        first, second = crm.wait_for(2)
        [logged] = wait_for_state(admin_client, hook["id"], "delivered")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == logged["id"]
    assert first.body == second.body
    checked(first, hook["secret"])
    checked(second, hook["secret"])
    attempts = logged["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 200]
    assert attempts[0]["error"] == "HTTP 500: receiver says no" and attempts[1]["error"] is None
    assert all(a["duration_ms"] >= 0 and a["attempted_at"].endswith("Z") for a in attempts)
    assert logged["delivered_at"] is not None and logged["next_attempt_at"] is None


def test_after_the_last_retry_it_fails_and_an_admin_redelivers_it(admin_client: TestClient) -> None:
    with receiver(statuses=[503, 503, 503]) as crm:
        hook = add_webhook(admin_client, crm.url, event_types=["case.created"])
        admin_client.post("/api/cases", json={"title": "Down for a while"})
        [failed] = wait_for_state(admin_client, hook["id"], "failed")
        assert [a["status_code"] for a in failed["attempts"]] == [503, 503, 503]
        assert len(crm.received) == 3
        again = admin_client.post(f"/api/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver")
        assert again.status_code == 202 and again.json()["state"] == "pending"
        [delivered] = wait_for_state(admin_client, hook["id"], "delivered")
        assert crm.received[3].headers["webhook-id"] == failed["id"]
    assert [a["status_code"] for a in delivered["attempts"]] == [503, 503, 503, 200]


def test_an_unreachable_endpoint_is_logged_with_why(admin_client: TestClient) -> None:
    with receiver() as gone:
        url = gone.url
    hook = add_webhook(admin_client, url, event_types=["case.created"])
    admin_client.post("/api/cases", json={"title": "Nobody listens"})
    [failed] = wait_for_state(admin_client, hook["id"], "failed")
    assert [a["status_code"] for a in failed["attempts"]] == [None, None, None]
    assert all(a["error"].startswith("ConnectError") for a in failed["attempts"])


def test_a_receiver_that_hangs_does_not_slow_the_api(admin_client: TestClient) -> None:
    with receiver(hang_s=HANG_S) as slow:
        hook = add_webhook(admin_client, slow.url)
        started = time.monotonic()
        for n in range(API_CALLS):
            assert admin_client.post("/api/cases", json={"title": f"case {n}"}).status_code == 201
            assert admin_client.get("/api/cases").status_code == 200
        elapsed = time.monotonic() - started
        assert elapsed < API_CALLS_BUDGET_S, f"{API_CALLS} API calls took {elapsed:.1f} s"
        slow.wait_for(1)  # the worker is sending, and hanging, meanwhile
        logged = deliveries(admin_client, hook["id"])
        assert len(logged) == API_CALLS and {d["event_type"] for d in logged} == {"case.created"}

        def timed_out() -> bool:
            attempts = [a for d in deliveries(admin_client, hook["id"]) for a in d["attempts"]]
            return any(a["error"] == "no answer within 2 s" for a in attempts)

        wait_until(timed_out, 20.0, "attempt logged as timed out")


def test_a_case_its_session_and_their_ends_each_arrive_once(admin_client: TestClient) -> None:
    with receiver() as crm:
        hook = add_webhook(admin_client, crm.url)
        case = admin_client.post("/api/cases", json={"title": "Whole story"}).json()
        session = admin_client.post(f"/api/cases/{case['id']}/sessions").json()
        assert (
            admin_client.post(f"/api/sessions/{session['id']}/end", json={"reason": "sorted"}).status_code
            == 200
        )
        closing = {"status": "closed", "outcome": "no_fault_found"}
        assert admin_client.patch(f"/api/cases/{case['id']}", json=closing).status_code == 200
        wait_for_state(admin_client, hook["id"], "delivered", count=3)
        payloads = [checked(request, hook["secret"]) for request in crm.wait_for(3)]
        assert len(crm.received) == 3
    by_type = {payload["type"]: payload for payload in payloads}
    # Nobody joined: no session.started, and no recording to be ready.
    assert set(by_type) == {"case.created", "session.ended", "case.closed"}
    assert by_type["session.ended"]["data"]["session_id"] == session["id"]
    assert by_type["session.ended"]["data"]["end_reason"] == "sorted"
    assert by_type["case.closed"]["data"]["outcome"] == "no_fault_found"
    assert sorted(p["timestamp"] for p in payloads) == [
        by_type[t]["timestamp"] for t in ("case.created", "session.ended", "case.closed")
    ]
