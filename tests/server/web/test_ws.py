"""The /ws signaling endpoint in-process: joining, chat, presence, misuse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.clock import utcnow
from server.config import Settings
from server.live.session import MAX_PROBLEMS_HEARD
from server.records.accounts import create_api_token, create_user
from server.records.models import RepairSession
from signaling.messages import MAX_MESSAGE_BYTES, PROTOCOL_VERSION


@dataclass
class Setup:
    client: TestClient
    auth: dict[str, str]
    case_id: str
    session_id: str
    token: str

    def new_session(self) -> tuple[str, str]:
        made = self.client.post(f"/api/cases/{self.case_id}/sessions", headers=self.auth).json()
        return made["id"], made["customer_url"].rsplit("/", 1)[1]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", reconnect_grace_s=0.2))
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
        case = client.post("/api/cases", json={"title": "Printer jams"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        yield Setup(client, auth, case["id"], made["id"], made["customer_url"].rsplit("/", 1)[1])


def join_customer(setup: Setup, ws, consent: bool = True, resume: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """``resume``: the secret of the seat's page (a reload of it), without which another page cannot
    join while the customer is in (``server/live/seat.py``)."""
    ws.send_json(
        {
            "type": "join",
            "version": PROTOCOL_VERSION,
            "role": "customer",
            "token": setup.token,
            "consent": consent,
            **({"resume": resume} if resume else {}),
        }
    )
    joined = ws.receive_json()
    assert joined["type"] == "joined", joined
    return joined


def join_expert(setup: Setup, ws) -> dict:  # type: ignore[no-untyped-def]
    ws.send_json(
        {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": setup.session_id}
    )
    joined = ws.receive_json()
    assert joined["type"] == "joined", joined
    return joined


def receive_until(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(10):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


def test_customer_and_expert_join_see_each_other_and_chat(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        joined = join_customer(setup, customer)
        assert joined["session_id"] == setup.session_id
        assert joined["ice_servers"] == []
        assert receive_until(customer, "recording")["status"] == "recording"
        with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
            assert join_expert(setup, expert)["peers"] == {"customer": "joined"}
            assert receive_until(customer, "presence") == {
                "type": "presence",
                "role": "expert",
                "status": "joined",
            }
            expert.send_json({"type": "chat", "text": "Hello, can you show me the back?"})
            line = receive_until(customer, "chat")
            assert line["from_role"] == "expert" and line["text"] == "Hello, can you show me the back?"
            assert receive_until(expert, "chat")["id"] == line["id"]  # the echo confirms
            customer.send_json({"type": "chat", "text": "Sure"})
            assert receive_until(expert, "chat")["text"] == "Sure"
            session = setup.client.get(f"/api/sessions/{setup.session_id}", headers=setup.auth).json()
            assert session["state"] == "live"
            assert session["participants"] == {"customer": "joined", "expert": "joined"}
        assert receive_until(customer, "presence") == {"type": "presence", "role": "expert", "status": "left"}


def test_malformed_and_unknown_messages_get_an_error_and_the_session_goes_on(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        join_customer(setup, customer)
        customer.send_text("{not json")
        assert receive_until(customer, "error")["code"] == "malformed_json"
        customer.send_json({"type": "teleport"})
        assert receive_until(customer, "error")["code"] == "unknown_type"
        customer.send_json({"type": "chat", "text": ""})
        assert receive_until(customer, "error")["code"] == "invalid_message"
        customer.send_json({"type": "chat", "text": "still here"})
        assert receive_until(customer, "chat")["text"] == "still here"


def test_an_oversized_message_closes_with_1009_and_the_session_goes_on(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        join_customer(setup, customer)
        with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
            join_expert(setup, expert)
            expert.send_text(json.dumps({"type": "chat", "text": "x" * (MAX_MESSAGE_BYTES + 10)}))
            assert receive_until(expert, "error")["code"] == "too_large"
            with pytest.raises(WebSocketDisconnect) as closed:
                expert.receive_json()
            assert closed.value.code == 1009
        # The expert's page reconnects; the session and its recording are still there.
        with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
            join_expert(setup, expert)
            expert.send_json({"type": "chat", "text": "back again"})
            assert receive_until(customer, "chat")["text"] == "back again"
        session = setup.client.get(f"/api/sessions/{setup.session_id}", headers=setup.auth).json()
        assert session["state"] == "live" and session["recording"]["status"] == "recording"


def test_a_second_customer_tab_takes_over_and_the_first_is_told_why(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as first:
        resume = join_customer(setup, first)["resume"]
        with setup.client.websocket_connect("/ws") as second:
            join_customer(setup, second, resume=resume)  # a duplicated tab keeps the page's storage
            replaced = receive_until(first, "replaced")
            assert "another tab" in replaced["reason"]
            with pytest.raises(WebSocketDisconnect) as closed:
                first.receive_json()
            assert closed.value.code == 4001
            second.send_json({"type": "chat", "text": "newer tab works"})
            assert receive_until(second, "chat")["text"] == "newer tab works"


def test_declined_consent_means_no_recording_and_the_case_says_so(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        joined = join_customer(setup, customer, consent=False)
        assert joined["recording"] is False
        assert receive_until(customer, "recording")["status"] == "declined"
    case = setup.client.get(f"/api/cases/{setup.case_id}", headers=setup.auth).json()
    session = case["sessions"][0]
    assert session["consent"] is False
    assert session["recording"]["status"] == "declined"
    assert session["recording"]["media_url"] is None


def test_consent_is_asked_at_every_join_and_both_badges_follow_it(setup: Setup) -> None:
    """A reload (a new socket) that declines stops the recording, tells both sides, and the log says
    when; a later join that consents starts it again."""
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        assert receive_until(expert, "recording")["status"] == "none"
        with setup.client.websocket_connect("/ws") as first:
            resume = join_customer(setup, first, consent=True)["resume"]
            assert receive_until(expert, "recording")["status"] == "recording"
            with setup.client.websocket_connect("/ws") as reloaded:
                joined = join_customer(setup, reloaded, consent=False, resume=resume)  # reloaded, declines
                assert joined["recording"] is False
                assert receive_until(reloaded, "recording")["status"] == "declined"
                assert receive_until(expert, "recording")["status"] == "declined"
                row = setup.client.get(f"/api/sessions/{setup.session_id}", headers=setup.auth).json()
                assert row["consent"] is False and row["recording"]["status"] == "declined"
            with setup.client.websocket_connect("/ws") as again:
                join_customer(setup, again, consent=True, resume=resume)
                assert receive_until(again, "recording")["status"] == "recording"
                assert receive_until(expert, "recording")["status"] == "recording"
            expert.send_json({"type": "end_session"})
            assert receive_until(expert, "recording")["status"] == "none"  # no video ever arrived
            assert receive_until(expert, "session_ended")
    events = setup.client.get(f"/api/sessions/{setup.session_id}/recording/events", headers=setup.auth).text
    kinds = [json.loads(line) for line in events.splitlines()]
    consents = [e["given"] for e in kinds if e["type"] == "consent"]
    assert consents == [True, False, True]
    order = [e["type"] for e in kinds if e["type"].startswith("recording_") or e["type"] == "consent"]
    assert order == [
        "recording_started",
        "consent",
        "recording_paused",
        "consent",
        "recording_resumed",
        "consent",
    ]


def test_a_snapshot_is_refused_while_consent_is_withdrawn(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        resume = join_customer(setup, customer, consent=True)["resume"]
        with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
            join_expert(setup, expert)
            with setup.client.websocket_connect("/ws") as reloaded:
                join_customer(setup, reloaded, consent=False, resume=resume)
                expert.send_json({"type": "snapshot"})
                error = receive_until(expert, "error")
                assert error["code"] == "no_consent"


def test_customer_cannot_end_the_session(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        join_customer(setup, customer)
        customer.send_json({"type": "end_session"})
        assert receive_until(customer, "error")["code"] == "forbidden"
    session = setup.client.get(f"/api/sessions/{setup.session_id}", headers=setup.auth).json()
    assert session["state"] == "live"


def test_expert_ends_the_session_for_everyone(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as customer:
        join_customer(setup, customer)
        with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
            join_expert(setup, expert)
            expert.send_json({"type": "end_session"})
            assert receive_until(customer, "session_ended")["reason"]
            with pytest.raises(WebSocketDisconnect) as closed:
                customer.receive_json()
            assert closed.value.code == 4002
    session = setup.client.get(f"/api/sessions/{setup.session_id}", headers=setup.auth).json()
    assert session["state"] == "ended" and session["ended_at"]
    # The link is dead now: the socket says so, and so does the page.
    with setup.client.websocket_connect("/ws") as late:
        late.send_json(
            {
                "type": "join",
                "version": PROTOCOL_VERSION,
                "role": "customer",
                "token": setup.token,
                "consent": True,
            }
        )
        assert receive_until(late, "error")["code"] == "session_ended"


def test_bad_tokens_are_refused_with_a_reason(setup: Setup) -> None:
    other_session, other_token = setup.new_session()
    with setup.client.app.state.services.db.session() as s:  # type: ignore[attr-defined]
        row = s.get(RepairSession, other_session)
        row.token_expires_at = utcnow() - timedelta(minutes=1)
    cases = [
        ({"token": "not-a-real-token"}, "bad_token"),
        ({"token": other_token}, "token_expired"),
        ({"token": setup.token, "session_id": other_session}, "token_mismatch"),
        ({}, "bad_token"),
    ]
    for fields, code in cases:
        with setup.client.websocket_connect("/ws") as ws:
            ws.send_json(
                {"type": "join", "version": PROTOCOL_VERSION, "role": "customer", "consent": True, **fields}
            )
            assert receive_until(ws, "error")["code"] == code, fields


def test_messages_before_join_and_unauthenticated_experts_are_refused(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "chat", "text": "hi"})
        assert receive_until(ws, "error")["code"] == "not_joined"
        ws.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": setup.session_id}
        )
        assert receive_until(ws, "error")["code"] == "unauthorized"
    with setup.client.websocket_connect("/ws", headers=setup.auth) as ws:
        ws.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": "no-such-session"}
        )
        assert receive_until(ws, "error")["code"] == "not_found"


def test_a_dropped_customer_is_shown_reconnecting_then_left(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as customer:
            join_customer(setup, customer)
            assert receive_until(expert, "presence")["status"] == "joined"
            customer.close(code=1006)
        assert receive_until(expert, "presence")["status"] == "reconnecting"
        assert receive_until(expert, "presence")["status"] == "left"  # grace is 0.2 s in this test


def test_a_trainer_cannot_join_a_session_as_the_expert(setup: Setup) -> None:
    app = setup.client.app
    trainer = create_user(app.state.services.db, "tina", "trainer", "a long trainer password")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {create_api_token(app.state.services.db, trainer)}"}  # type: ignore[attr-defined]
    with setup.client.websocket_connect("/ws", headers=headers) as ws:
        ws.send_json(
            {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": setup.session_id}
        )
        error = receive_until(ws, "error")
        assert error["code"] == "forbidden" and "trainer" in error["message"]


CHROME_ON_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36"
)


def test_the_expert_sees_the_customers_browser_and_what_keeps_it_out(tmp_path: Path) -> None:
    """A customer whose media never arrives, and one whose page reports a failure: the expert is
    told each, with the customer's browser, and the log (hence the case) keeps them."""
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", media_arrival_s=0.5))
    with TestClient(app) as client:
        expert_user = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert_user)}"}
        case = client.post("/api/cases", json={"title": "Silent phone"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        token = made["customer_url"].rsplit("/", 1)[1]
        with client.websocket_connect("/ws", headers=auth) as expert:
            expert.send_json(
                {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": made["id"]}
            )
            assert receive_until(expert, "joined")
            with client.websocket_connect("/ws") as customer:
                customer.send_json(
                    {
                        "type": "join",
                        "version": PROTOCOL_VERSION,
                        "role": "customer",
                        "token": token,
                        "consent": True,
                        "client": {"user_agent": CHROME_ON_ANDROID},
                    }
                )
                assert receive_until(customer, "joined")
                info = receive_until(expert, "participant_info")
                assert info == {
                    "type": "participant_info",
                    "role": "customer",
                    "browser": "Chrome 156 on Android",
                }
                silent = receive_until(expert, "participant_info")  # no video came in 0.5 s
                assert "no video has reached the server" in silent["problem"]
                assert "Chrome 156 on Android" in silent["problem"]
                customer.send_json({"type": "client_problem", "problem": "Could not start the call: boom"})
                reported = receive_until(expert, "participant_info")
                assert reported["problem"] == "Could not start the call: boom"
                # A page that repeats itself, or reports without end, is logged once per problem
                # and at most MAX_PROBLEMS_HEARD times in all; the expert hears each change.
                for _ in range(10):
                    customer.send_json(
                        {"type": "client_problem", "problem": "Could not start the call: boom"}
                    )
                for number in range(MAX_PROBLEMS_HEARD + 5):
                    customer.send_json({"type": "client_problem", "problem": f"problem {number}"})
                last = f"problem {MAX_PROBLEMS_HEARD + 4}"
                told = []
                while last not in told:  # one participant_info per change, the newest last
                    message = expert.receive_json()
                    if message["type"] == "participant_info":
                        told.append(message["problem"])
                assert len(told) == MAX_PROBLEMS_HEARD + 5
        events = client.get(f"/api/sessions/{made['id']}/recording/events", headers=auth).text
        problems = [json.loads(line) for line in events.splitlines() if '"client_problem"' in line]
        assert len(problems) == MAX_PROBLEMS_HEARD
        assert [p["problem"] for p in problems].count("Could not start the call: boom") == 1
        assert all(p["browser"] == "Chrome 156 on Android" and p["role"] == "customer" for p in problems)
        playback = client.get(f"/api/sessions/{made['id']}/playback", headers=auth).json()
        assert len(playback["problems"]) == len(problems) >= 2


def test_a_page_that_cannot_make_calls_reports_it_by_its_link(setup: Setup) -> None:
    problem = {"problem": "the customer's browser cannot make video calls", "user_agent": CHROME_ON_ANDROID}
    assert setup.client.post(f"/join/{setup.token}/problem", json=problem).status_code == 204
    unknown = setup.client.post("/join/not-a-real-token/problem", json=problem)
    assert unknown.status_code == 404 and "not valid" in unknown.json()["error"]["message"]
    too_long = setup.client.post(f"/join/{setup.token}/problem", json={"problem": "x" * 501})
    assert too_long.status_code == 422
    events = setup.client.get(f"/api/sessions/{setup.session_id}/recording/events", headers=setup.auth).text
    logged = [json.loads(line) for line in events.splitlines()]
    assert [(e["type"], e["browser"]) for e in logged] == [("client_problem", "Chrome 156 on Android")]
