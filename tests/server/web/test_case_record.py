"""The case record's ``fixed_by_step``: a step of the case's procedure, only with fixed_remotely."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

PROCEDURE = "board-connector-reseat"
STEPS = "locate, find-header, press, check-capacitors"


def new_case(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/cases", json={"title": "Sound card crackles", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_closing_with_the_step_that_fixed_it(expert_client: TestClient, trainer_client: TestClient) -> None:
    case = new_case(expert_client, procedure_id=PROCEDURE)
    assert case["fixed_by_step"] is None
    body = {"status": "closed", "outcome": "fixed_remotely", "fixed_by_step": "press"}
    response = expert_client.patch(f"/api/cases/{case['id']}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["fixed_by_step"] == "press"
    assert trainer_client.get(f"/api/cases/{case['id']}").json()["fixed_by_step"] == "press"
    listed = trainer_client.get("/api/cases").json()["cases"]
    assert [c["fixed_by_step"] for c in listed] == ["press"]
    # Cleared again with null.
    cleared = expert_client.patch(f"/api/cases/{case['id']}", json={"fixed_by_step": None})
    assert cleared.status_code == 200 and cleared.json()["fixed_by_step"] is None


def test_an_unknown_step_is_named_with_the_valid_ones(expert_client: TestClient) -> None:
    case = new_case(expert_client, procedure_id=PROCEDURE)
    body = {"status": "closed", "outcome": "fixed_remotely", "fixed_by_step": "reboot"}
    response = expert_client.patch(f"/api/cases/{case['id']}", json=body)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "'reboot' is not a step of 'board-connector-reseat'" in message and STEPS in message
    assert expert_client.get(f"/api/cases/{case['id']}").json()["status"] == "open"  # nothing saved


def test_a_step_fixed_it_only_with_the_outcome_fixed_remotely(expert_client: TestClient) -> None:
    case = new_case(expert_client, procedure_id=PROCEDURE)
    for outcome in ("sent_to_repair", "no_fault_found", "unresolved"):
        body = {"status": "closed", "outcome": outcome, "fixed_by_step": "press"}
        response = expert_client.patch(f"/api/cases/{case['id']}", json=body)
        assert response.status_code == 422
        assert "only with the outcome fixed_remotely" in response.json()["error"]["message"]
    # Set first, then the outcome changed without clearing it: refused too.
    fixed = {"status": "closed", "outcome": "fixed_remotely", "fixed_by_step": "press"}
    assert expert_client.patch(f"/api/cases/{case['id']}", json=fixed).status_code == 200
    response = expert_client.patch(f"/api/cases/{case['id']}", json={"outcome": "no_fault_found"})
    assert response.status_code == 422
    assert expert_client.get(f"/api/cases/{case['id']}").json()["outcome"] == "fixed_remotely"


def test_a_case_without_a_procedure_has_no_step_to_name(expert_client: TestClient) -> None:
    case = new_case(expert_client)
    body = {"status": "closed", "outcome": "fixed_remotely", "fixed_by_step": "press"}
    response = expert_client.patch(f"/api/cases/{case['id']}", json=body)
    assert response.status_code == 422 and "has no procedure_id" in response.json()["error"]["message"]


def test_changing_the_procedure_checks_the_step_again(expert_client: TestClient) -> None:
    case = new_case(expert_client, procedure_id=PROCEDURE)
    fixed = {"status": "closed", "outcome": "fixed_remotely", "fixed_by_step": "press"}
    assert expert_client.patch(f"/api/cases/{case['id']}", json=fixed).status_code == 200
    response = expert_client.patch(f"/api/cases/{case['id']}", json={"procedure_id": "router-cable-reseat"})
    assert response.status_code == 422
    assert "'press' is not a step of 'router-cable-reseat'" in response.json()["error"]["message"]


def test_trainers_cannot_set_it(expert_client: TestClient, trainer_client: TestClient) -> None:
    case = new_case(expert_client, procedure_id=PROCEDURE)
    response = trainer_client.patch(f"/api/cases/{case['id']}", json={"fixed_by_step": "press"})
    assert response.status_code == 403
