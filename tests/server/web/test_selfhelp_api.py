"""Self-help links and runs over the API, in-process (docs/self-help.md): links made, listed and
revoked by staff with only their hash stored; a customer's run opened from one, its "Done" tap in
the live session, its escalation to the queue, the pick-up (once only) and "fixed"."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.cluster.internal import INTERNAL_HEADER
from server.records import accounts as auth
from server.records.models import Case, RepairSession, SelfHelpLink, SelfHelpRun
from server.records.tokens import sha256_hex
from signaling.messages import PROTOCOL_VERSION
from tests.server.conftest import add_user
from tests.server.web.wire import receive_until

PROCEDURE = "board-connector-reseat"

pytestmark = pytest.mark.both_databases


def bearer(app: Starlette, username: str, role: str) -> dict[str, str]:
    add_user(app, username, role)
    user = auth.find_user(app.state.services.db, username)
    assert user is not None
    return {"Authorization": f"Bearer {auth.create_api_token(app.state.services.db, user, 'tests')}"}


@pytest.fixture
def erin(app: Starlette, client: TestClient) -> dict[str, str]:
    return bearer(app, "erin", "expert")


def make_link(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/procedures/{PROCEDURE}/self-help", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def start_run(client: TestClient, link: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/help/{link['token']}/runs", json={})
    assert response.status_code == 201, response.text
    return dict(response.json())


def rows(app: Starlette, model: Any) -> list[Any]:
    with app.state.services.db.session() as s:
        return list(s.scalars(select(model)))


# --- links ----------------------------------------------------------------------------------------------


def test_a_link_is_made_with_its_url_qr_and_token_and_only_its_hash_is_stored(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    link = make_link(client, erin, label="Box of the R-200")
    token = link["token"]
    assert link["url"] == f"http://testserver/help/{token}"
    assert link["qr_svg_url"] == f"http://testserver/help/{token}/qr.svg"
    assert link["procedure_id"] == PROCEDURE and link["label"] == "Box of the R-200"
    assert link["revoked"] is False
    [stored] = rows(app, SelfHelpLink)
    assert stored.token_sha256 == sha256_hex(token)
    assert token not in repr([(stored.id, stored.procedure_id, stored.label, stored.token_sha256)]), (
        "the clear token is not stored"
    )

    qr = client.get(f"/help/{token}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    page = client.get(f"/help/{token}")
    assert page.status_code == 200 and 'data-testid="selfhelp-start"' in page.text
    procedure = client.get(f"/help/{token}/procedure").json()["procedure"]
    assert procedure["id"] == PROCEDURE and procedure["steps"][1]["safety"]


def test_making_links_is_for_experts_and_admins_and_names_a_loaded_procedure(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    assert client.post(f"/api/procedures/{PROCEDURE}/self-help", json={}).status_code == 401
    tom = bearer(app, "tom", "trainer")
    assert client.post(f"/api/procedures/{PROCEDURE}/self-help", json={}, headers=tom).status_code == 403
    missing = client.post("/api/procedures/no-such-thing/self-help", json={}, headers=erin)
    assert missing.status_code == 404 and "GET /api/procedures" in missing.json()["error"]["message"]
    long_label = client.post(
        f"/api/procedures/{PROCEDURE}/self-help", json={"label": "x" * 201}, headers=erin
    )
    assert long_label.status_code == 422
    unknown_field = client.post(f"/api/procedures/{PROCEDURE}/self-help", json={"lable": "a"}, headers=erin)
    assert unknown_field.status_code == 422
    # No body at all is a link without a label.
    assert client.post(f"/api/procedures/{PROCEDURE}/self-help", headers=erin).status_code == 201


def test_links_are_listed_in_pages_without_their_tokens(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    made = [make_link(client, erin, label=f"sticker {n}") for n in range(3)]
    first = client.get("/api/self-help/links?limit=2", headers=erin).json()
    assert first["total"] == 3 and len(first["links"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/self-help/links?limit=2&cursor={first['next_cursor']}", headers=erin).json()
    assert len(second["links"]) == 1 and second["next_cursor"] is None
    listed = first["links"] + second["links"]
    assert {link["id"] for link in listed} == {link["id"] for link in made}
    text = str(listed)
    assert all(link["token"] not in text for link in made)
    assert (
        client.get("/api/self-help/links?procedure_id=router-cable-reseat", headers=erin).json()["total"] == 0
    )
    assert client.get("/api/self-help/links?limit=0", headers=erin).status_code == 400
    assert client.get("/api/self-help/links").status_code == 401


def test_a_revoked_link_stops_working_at_once(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    link = make_link(client, erin)
    run = start_run(client, link)  # a run already started goes on
    revoked = client.post(f"/api/self-help/links/{link['id']}/revoke", headers=erin)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    again = client.post(f"/api/self-help/links/{link['id']}/revoke", headers=erin).json()
    assert again["revoked_at"] == revoked.json()["revoked_at"]

    page = client.get(f"/help/{link['token']}")
    assert page.status_code == 410 and "<script" not in page.text
    refused = client.post(f"/help/{link['token']}/runs", json={})
    assert refused.status_code == 409 and "withdrawn" in refused.json()["error"]["message"]
    assert client.get(f"/help/{link['token']}/qr.svg").status_code == 409
    assert client.get(f"/join/{run['join_token']}/self-help").json()["state"] == "running"

    assert client.post("/api/self-help/links/nope/revoke", headers=erin).status_code == 404
    tom = bearer(app, "tom", "trainer")
    assert client.post(f"/api/self-help/links/{link['id']}/revoke", headers=tom).status_code == 403


def test_an_unknown_link_gets_a_page_without_script(client: TestClient) -> None:
    page = client.get("/help/not-a-real-token")
    assert page.status_code == 404 and "<script" not in page.text
    assert client.post("/help/not-a-real-token/runs", json={}).status_code == 404
    assert client.get("/help/not-a-real-token/procedure").status_code == 404


# --- runs -----------------------------------------------------------------------------------------------


def test_a_run_is_a_new_case_with_its_procedure_and_one_session(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    link = make_link(client, erin)
    run = start_run(client, link)
    [case] = rows(app, Case)
    [session] = rows(app, RepairSession)
    [stored] = rows(app, SelfHelpRun)
    assert case.procedure_id == PROCEDURE and case.status == "open"
    assert case.title == "Self-help: Reseat the J5 header cable"
    assert case.device_model == "Creative PCI sound card (sample photo)"
    assert session.case_id == case.id and session.id == run["session_id"]
    assert session.join_token_sha256 == sha256_hex(run["join_token"])
    assert (stored.state, stored.link_id, stored.case_id) == ("running", link["id"], case.id)
    # The body must be JSON (another site's page cannot send that unasked) and has no fields yet.
    assert client.post(f"/help/{link['token']}/runs", content=b"{}").status_code == 415
    assert client.post(f"/help/{link['token']}/runs", json={"x": 1}).status_code == 422


def test_escalated_customers_queue_in_order_and_one_expert_picks_each_up(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    link = make_link(client, erin)
    first, second = start_run(client, link), start_run(client, link)
    for run in (first, second):
        answer = client.post(f"/join/{run['join_token']}/self-help/escalate", json={"reason": "asked"})
        assert answer.status_code == 200, answer.text
    place = client.get(f"/join/{second['join_token']}/self-help").json()
    assert place["state"] == "escalated" and place["position"] == 2 and place["estimated_wait_s"] == 240

    queue = client.get("/api/self-help/queue", headers=erin).json()
    assert [item["run_id"] for item in queue["queue"]] == [first["run_id"], second["run_id"]]
    item = queue["queue"][0]
    assert item["device_model"] == "Creative PCI sound card (sample photo)"
    assert item["procedure"] == {"id": PROCEDURE, "title": "Reseat the J5 header cable"}
    assert item["reason"] == "asked" and item["wait_s"] >= 0 and queue["total"] == 2

    ben = bearer(app, "ben", "expert")
    got = client.post(f"/api/self-help/runs/{first['run_id']}/pickup", headers=erin)
    assert got.status_code == 200
    assert got.json()["console_url"] == f"http://testserver/console/{first['session_id']}"
    lost = client.post(f"/api/self-help/runs/{first['run_id']}/pickup", headers=ben)
    assert lost.status_code == 409 and "erin has already picked up" in lost.json()["error"]["message"]

    assert client.get(f"/join/{first['join_token']}/self-help").json() == {
        "state": "picked_up",
        "position": None,
        "estimated_wait_s": None,
        "picked_up_by": "erin",
    }
    assert client.get(f"/join/{second['join_token']}/self-help").json()["position"] == 1
    assert [i["run_id"] for i in client.get("/api/self-help/queue", headers=erin).json()["queue"]] == [
        second["run_id"]
    ]
    assert client.post("/api/self-help/runs/nope/pickup", headers=erin).status_code == 404
    tom = bearer(app, "tom", "trainer")
    assert client.post(f"/api/self-help/runs/{second['run_id']}/pickup", headers=tom).status_code == 403
    running = start_run(client, link)
    not_waiting = client.post(f"/api/self-help/runs/{running['run_id']}/pickup", headers=erin)
    assert not_waiting.status_code == 409 and "not waiting" in not_waiting.json()["error"]["message"]
    bad = client.post(f"/join/{running['join_token']}/self-help/escalate", json={"reason": "bored"})
    assert bad.status_code == 422


def test_a_customer_who_left_is_not_in_the_queue_and_cannot_be_picked_up(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    run = start_run(client, make_link(client, erin))
    client.post(f"/join/{run['join_token']}/self-help/escalate", json={})
    assert client.post(f"/api/sessions/{run['session_id']}/end", json={}, headers=erin).status_code == 200
    assert client.get("/api/self-help/queue", headers=erin).json()["queue"] == []
    refused = client.post(f"/api/self-help/runs/{run['run_id']}/pickup", headers=erin)
    assert refused.status_code == 409 and "left" in refused.json()["error"]["message"]


def test_fixed_closes_the_case_as_fixed_by_self_help_and_ends_the_session(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    run = start_run(client, make_link(client, erin))
    answer = client.post(f"/join/{run['join_token']}/self-help/fixed", json={})
    assert answer.status_code == 200, answer.text
    [case] = rows(app, Case)
    [session] = rows(app, RepairSession)
    assert (case.status, case.outcome) == ("closed", "fixed_by_self_help")
    assert case.notes.endswith("The customer said self-help fixed it, at step (none).")
    assert session.state == "ended"
    assert client.get(f"/join/{run['join_token']}/self-help").json()["state"] == "fixed"
    # The session has ended: nothing more can be done with it.
    assert client.post(f"/join/{run['join_token']}/self-help/escalate", json={}).status_code == 409


def test_fixed_after_an_expert_picked_them_up_is_the_experts(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    run = start_run(client, make_link(client, erin))
    client.post(f"/join/{run['join_token']}/self-help/escalate", json={})
    client.post(f"/api/self-help/runs/{run['run_id']}/pickup", headers=erin)
    refused = client.post(f"/join/{run['join_token']}/self-help/fixed", json={})
    assert refused.status_code == 409 and "expert closes" in refused.json()["error"]["message"]


def test_a_customer_link_of_an_expert_session_is_no_self_help_run(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    case = client.post("/api/cases", json={"title": "Printer"}, headers=erin).json()
    made = client.post(f"/api/cases/{case['id']}/sessions", headers=erin).json()
    token = made["customer_url"].rsplit("/", 1)[1]
    for path in ("escalate", "fixed"):
        assert client.post(f"/join/{token}/self-help/{path}", json={}).status_code == 404
    assert client.post(f"/join/{token}/self-help/done", json={"step_id": "locate"}).status_code == 404
    assert client.get("/join/nope/self-help").status_code == 404


# --- the "Done" tap in the live session ------------------------------------------------------------------


def customer_join(ws: Any, token: str) -> dict[str, Any]:
    ws.send_json(
        {"type": "join", "version": PROTOCOL_VERSION, "role": "customer", "token": token, "consent": True}
    )
    return receive_until(ws, "procedure")


def test_done_completes_a_manual_step_only_and_escalation_keeps_the_step_reached(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    run = start_run(client, make_link(client, erin))
    token = run["join_token"]
    # Nobody in the session yet: the tap cannot reach it.
    assert client.post(f"/join/{token}/self-help/done", json={"step_id": "locate"}).status_code == 409
    with client.websocket_connect("/ws") as customer:
        state = customer_join(customer, token)
        # The procedure comes from the link, set by the server from the start.
        assert state["procedure"]["id"] == PROCEDURE and state["step_id"] == "locate"
        vision_step = client.post(f"/join/{token}/self-help/done", json={"step_id": "locate"})
        assert (
            vision_step.status_code == 409
            and "camera checks this step" in vision_step.json()["error"]["message"]
        )
        with client.websocket_connect("/ws", headers=erin) as expert:
            expert.send_json(
                {
                    "type": "join",
                    "version": PROTOCOL_VERSION,
                    "role": "expert",
                    "session_id": run["session_id"],
                }
            )
            receive_until(expert, "procedure")
            expert.send_json({"type": "step", "action": "next"})
            assert receive_until(customer, "procedure")["step_id"] == "find-header"
        wrong = client.post(f"/join/{token}/self-help/done", json={"step_id": "press"})
        assert wrong.status_code == 409 and "not the current one" in wrong.json()["error"]["message"]
        done = client.post(f"/join/{token}/self-help/done", json={"step_id": "find-header"})
        assert done.status_code == 200, done.text
        assert done.json() == {
            "procedure_id": PROCEDURE,
            "step_id": "press",
            "completed": ["find-header"],
            "finished": False,
        }
        moved = receive_until(customer, "procedure")
        assert moved["changed_by"] == "customer" and moved["step_id"] == "press"
        # A second tap on the same step (a double tap) changes nothing.
        again = client.post(f"/join/{token}/self-help/done", json={"step_id": "find-header"})
        assert again.json()["step_id"] == "press"

        # Another process of the service reaches the session here through the internal call.
        internal = {INTERNAL_HEADER: app.state.services.internal_secret}
        base = f"/internal/sessions/{run['session_id']}/self-help"
        assert client.post(f"{base}/position", json={}).status_code == 403
        assert (
            client.post(f"{base}/position", json={}, headers=internal).json()["position"]["step_id"]
            == "press"
        )
        refused = client.post(f"{base}/done", json={"step_id": "press"}, headers=internal).json()
        assert "camera checks this step" in refused["conflict"]
        assert client.post(f"{base}/nothing", json={}, headers=internal).status_code == 404

        escalated = client.post(f"/join/{token}/self-help/escalate", json={"reason": "asked"})
        assert escalated.json()["position"] == 1
        [item] = client.get("/api/self-help/queue", headers=erin).json()["queue"]
        assert item["step"] == {"id": "press", "index": 2, "count": 4, "title": "Press the plug down"}
        [case] = rows(app, Case)
        # The case's notes name the step as staff know it (number and title), not by its id.
        assert case.notes.endswith('The customer asked for an expert at step 3, "Press the plug down".')


def test_the_notes_name_a_step_by_its_id_only_when_its_procedure_is_gone(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    run = start_run(client, make_link(client, erin))
    with client.websocket_connect("/ws") as customer:
        assert customer_join(customer, run["join_token"])["step_id"] == "locate"
        # The site removed the procedure's folder; the live session still runs the one it loaded.
        del app.state.services.procedures.procedures[PROCEDURE]
        escalated = client.post(f"/join/{run['join_token']}/self-help/escalate", json={})
        assert escalated.status_code == 200, escalated.text
    [case] = rows(app, Case)
    assert case.notes.endswith("The customer asked for an expert at step locate.")


def test_a_link_whose_procedure_is_no_longer_loaded_says_so(
    app: Starlette, client: TestClient, erin: dict[str, str]
) -> None:
    link = make_link(client, erin)
    del app.state.services.procedures.procedures[PROCEDURE]  # the site removed its folder and restarted
    page = client.get(f"/help/{link['token']}")
    assert page.status_code == 503 and "not on the server" in page.text and "<script" not in page.text
    assert client.post(f"/help/{link['token']}/runs", json={}).status_code == 409
