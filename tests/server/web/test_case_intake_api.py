"""A CRM or a device's diagnostics opens a case through the API: an external reference, an
Idempotency-Key (the same request twice makes one case), and the link to send the customer."""

from __future__ import annotations

import threading

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.records.database import Database
from server.records.models import Case
from tests.server.conftest import browser

pytestmark = pytest.mark.both_databases

BOARD = "board-connector-reseat"
TICKET = {"title": "Board does not start", "external_reference": "ZD-1042", "procedure_id": BOARD}


def bearer(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def case_count(app: Starlette) -> int:
    db: Database = app.state.services.db
    with db.session() as s:
        return s.query(Case).count()


def test_the_same_request_twice_makes_one_case(app: Starlette, client: TestClient, admin_token: str) -> None:
    first = client.post("/api/cases", json=TICKET, headers=bearer(admin_token, "zd-1042-open"))
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["source"], made["external_reference"], made["link"]) == ("api", "ZD-1042", None)
    again = client.post("/api/cases", json=TICKET, headers=bearer(admin_token, "zd-1042-open"))
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == made["id"] and case_count(app) == 1
    other = client.post(
        "/api/cases", json={**TICKET, "title": "Other"}, headers=bearer(admin_token, "zd-1042-open")
    )
    assert other.status_code == 409
    assert "already used with another request" in other.json()["error"]["message"]
    assert (
        client.get(f"/api/cases/{made['id']}", headers=bearer(admin_token)).json()["title"] == TICKET["title"]
    )
    assert case_count(app) == 1


def test_without_a_key_every_request_makes_a_case_and_staff_cases_are_console(
    app: Starlette, client: TestClient, admin_token: str, expert_client: TestClient
) -> None:
    for _ in range(2):
        assert client.post("/api/cases", json=TICKET, headers=bearer(admin_token)).status_code == 201
    by_staff = expert_client.post("/api/cases", json={"title": "At the desk"}).json()
    assert (by_staff["source"], by_staff["external_reference"]) == ("console", None)
    assert case_count(app) == 3


def test_an_expert_link_is_a_session_to_send(client: TestClient, admin_token: str) -> None:
    response = client.post(
        "/api/cases", json={**TICKET, "link": "expert"}, headers=bearer(admin_token, "k-e")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    [session] = body["sessions"]
    link = body["link"]
    assert link["kind"] == "expert" and link["session_id"] == session["id"]
    assert link["url"].startswith("http://testserver/join/")
    token = link["url"].rsplit("/", 1)[1]
    assert client.get(f"/join/{token}").status_code == 200
    replay = client.post("/api/cases", json={**TICKET, "link": "expert"}, headers=bearer(admin_token, "k-e"))
    assert replay.status_code == 200
    assert replay.json()["link"] == {**link, "url": None}  # the URL is shown once: only its hash is kept


def test_a_self_help_link_runs_on_the_case(app: Starlette, client: TestClient, admin_token: str) -> None:
    response = client.post("/api/cases", json={**TICKET, "link": "self_help"}, headers=bearer(admin_token))
    assert response.status_code == 201, response.text
    body = response.json()
    link = body["link"]
    assert link["kind"] == "self_help" and link["qr_svg_url"] == f"{link['url']}/qr.svg"
    token = link["url"].rsplit("/", 1)[1]
    phone = browser(app, client)
    run = phone.post(f"/help/{token}/runs", json={})
    assert run.status_code == 201, run.text
    case = client.get(f"/api/cases/{body['id']}", headers=bearer(admin_token)).json()
    assert [s["id"] for s in case["sessions"]] == [run.json()["session_id"]]
    assert case["source"] == "api" and case_count(app) == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        ({**TICKET, "link": "self_help", "procedure_id": None}, {}, 422, "send procedure_id too"),
        ({**TICKET, "link": "sms"}, {}, 422, "link:"),
        ({**TICKET, "procedure_id": "nope"}, {}, 422, "there is no procedure 'nope'"),
        (TICKET, {"Idempotency-Key": "has space"}, 400, "Idempotency-Key header must be"),
        (TICKET, {"Idempotency-Key": "x" * 256}, 400, "Idempotency-Key header must be"),
    ],
)
def test_wrong_requests_are_refused_with_a_reason(
    app: Starlette,
    client: TestClient,
    admin_token: str,
    body: dict[str, object],
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    response = client.post("/api/cases", json=body, headers={**bearer(admin_token), **headers})
    assert response.status_code == status and message in response.json()["error"]["message"]
    assert case_count(app) == 0


def test_two_identical_requests_at_once_make_one_case(
    app: Starlette, client: TestClient, admin_token: str
) -> None:
    callers = [browser(app, client) for _ in range(4)]
    gate = threading.Barrier(len(callers))
    answers: list[tuple[int, str]] = []

    def call(caller: TestClient) -> None:
        gate.wait()
        response = caller.post("/api/cases", json=TICKET, headers=bearer(admin_token, "race-1"))
        answers.append((response.status_code, response.json()["id"]))

    threads = [threading.Thread(target=call, args=(caller,)) for caller in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _id in answers) == [200, 200, 200, 201]
    assert len({case_id for _status, case_id in answers}) == 1 and case_count(app) == 1
