"""The customer's seat: bound by the resume secret of the page that joined; the link's expiry governs
new joins only. The rule alone, then through the real ``/ws`` endpoint in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.clock import utcnow
from server.config import Settings
from server.live import session as live_session
from server.live.seat import REFUSAL_NOTICE_EVERY_S, CustomerSeat
from server.records.accounts import create_api_token, create_user
from signaling import ProtocolError
from signaling.messages import PROTOCOL_VERSION

NOW = datetime(2026, 11, 29, 12, 0, 0)
EXPIRES = NOW + timedelta(hours=24)
LATER = EXPIRES + timedelta(hours=1)


# --- the rule --------------------------------------------------------------------------------


def refused(seat: CustomerSeat, resume: str | None, occupied: bool, now: datetime) -> str:
    with pytest.raises(ProtocolError) as error:
        seat.admit(resume, occupied, now)
    return error.value.code


def test_the_first_join_gets_a_secret_and_comes_back_with_it() -> None:
    seat = CustomerSeat(EXPIRES)
    first = seat.admit(None, occupied=False, now=NOW)
    assert not first.resumed and len(first.resume) >= 32
    again = seat.admit(first.resume, occupied=True, now=NOW)
    assert again.resumed and again.resume == first.resume


def test_another_browser_cannot_take_a_seat_that_is_in_use() -> None:
    seat = CustomerSeat(EXPIRES)
    held = seat.admit(None, occupied=False, now=NOW).resume
    assert refused(seat, None, occupied=True, now=NOW) == "seat_taken"
    assert refused(seat, "a guessed secret", occupied=True, now=NOW) == "seat_taken"
    assert refused(seat, "é" * 10, occupied=True, now=NOW) == "seat_taken"  # any text, no crash
    assert seat.admit(held, occupied=True, now=NOW).resumed


def test_a_free_seat_before_the_expiry_goes_to_a_new_join_and_the_old_secret_stops_working() -> None:
    seat = CustomerSeat(EXPIRES)
    old = seat.admit(None, occupied=False, now=NOW).resume
    new = seat.admit(None, occupied=False, now=NOW)  # the customer left for good; a new browser
    assert not new.resumed and new.resume != old
    assert refused(seat, old, occupied=True, now=NOW) == "seat_taken"


def test_past_the_expiry_only_the_seats_secret_gets_in() -> None:
    seat = CustomerSeat(EXPIRES)
    held = seat.admit(None, occupied=False, now=NOW).resume
    assert seat.admit(held, occupied=False, now=LATER).resumed
    assert seat.admit(held, occupied=True, now=LATER).resumed
    assert refused(seat, None, occupied=False, now=LATER) == "token_expired"
    assert refused(seat, "wrong", occupied=True, now=LATER) == "token_expired"
    assert refused(CustomerSeat(EXPIRES), None, occupied=False, now=EXPIRES) == "token_expired"


def test_a_refusal_is_worth_telling_once_in_a_while() -> None:
    seat = CustomerSeat(EXPIRES)
    assert seat.refusal_worth_telling(100.0)
    assert not seat.refusal_worth_telling(100.5)  # the same person trying again at once
    assert not seat.refusal_worth_telling(100.0 + REFUSAL_NOTICE_EVERY_S - 0.1)
    assert seat.refusal_worth_telling(100.0 + REFUSAL_NOTICE_EVERY_S)
    assert not seat.refusal_worth_telling(101.0 + REFUSAL_NOTICE_EVERY_S)


# --- through /ws -------------------------------------------------------------------------------


@dataclass
class Setup:
    client: TestClient
    auth: dict[str, str]
    session_id: str
    token: str


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", reconnect_grace_s=30))
    with TestClient(app) as client:
        expert = create_user(app.state.services.db, "erin", "expert", "correct horse battery")
        auth = {"Authorization": f"Bearer {create_api_token(app.state.services.db, expert)}"}
        case = client.post("/api/cases", json={"title": "Printer jams"}, headers=auth).json()
        made = client.post(f"/api/cases/{case['id']}/sessions", headers=auth).json()
        yield Setup(client, auth, made["id"], made["customer_url"].rsplit("/", 1)[1])


def send_join(
    setup: Setup,
    ws: Any,
    resume: str | None = None,
    page_id: str | None = None,
    user_agent: str | None = None,
) -> dict[str, Any]:
    """``page_id``: the page the join comes from (a copy of the tab has another one than its
    original); ``user_agent``: the browser it says it is."""
    join: dict[str, Any] = {"type": "join", "version": PROTOCOL_VERSION, "role": "customer"}
    join["token"], join["consent"] = setup.token, True
    if resume is not None:
        join["resume"] = resume
    if page_id is not None:
        join["page_id"] = page_id
    if user_agent is not None:
        join["client"] = {"user_agent": user_agent}
    ws.send_json(join)
    return dict(ws.receive_json())


def join_expert(setup: Setup, ws: Any) -> None:
    join = {"type": "join", "version": PROTOCOL_VERSION, "role": "expert", "session_id": setup.session_id}
    ws.send_json(join)
    assert ws.receive_json()["type"] == "joined"


def receive_until(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(12):
        message = ws.receive_json()
        if message["type"] == kind:
            return dict(message)
    raise AssertionError(f"no {kind!r} message")


def test_a_second_browser_with_the_link_is_refused_while_the_customer_is_in(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as customer:
            joined = send_join(setup, customer)
            assert joined["type"] == "joined" and joined["resume"]
            assert receive_until(expert, "presence")["status"] == "joined"
            with setup.client.websocket_connect("/ws") as thief:
                error = send_join(setup, thief)
                assert error["type"] == "error" and error["code"] == "seat_taken", error
                assert "another browser" in error["message"]
            customer.send_json({"type": "chat", "text": "still mine"})
            assert receive_until(customer, "chat")["text"] == "still mine"
            assert receive_until(expert, "chat")["text"] == "still mine"
            session = setup.client.get(f"/api/sessions/{setup.session_id}", headers=setup.auth).json()
            assert session["participants"]["customer"] == "joined"


def test_the_customers_page_comes_back_to_its_seat_with_its_secret(setup: Setup) -> None:
    """A reload or a dropped network: the new socket takes over from the old one, and the expert is
    not told that another tab took over."""
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as first:
            resume = send_join(setup, first)["resume"]
            assert receive_until(expert, "presence")["status"] == "joined"
            with setup.client.websocket_connect("/ws") as back:
                joined = send_join(setup, back, resume)
                assert joined["type"] == "joined" and joined["resume"] == resume
                assert receive_until(first, "replaced")
                with pytest.raises(WebSocketDisconnect):
                    first.receive_json()
                presence = receive_until(expert, "presence")
                assert presence["status"] == "joined" and "detail" not in presence, presence


def test_past_the_expiry_the_customer_rejoins_and_nobody_else_joins(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as customer:
            resume = send_join(setup, customer)["resume"]
            assert receive_until(expert, "presence")["status"] == "joined"
        assert receive_until(expert, "presence")["status"] == "left"  # closed the page: left for good
        monkeypatch.setattr(live_session, "utcnow", lambda: utcnow() + timedelta(days=2))
        with setup.client.websocket_connect("/ws") as stranger:
            error = send_join(setup, stranger)
            assert error["type"] == "error" and error["code"] == "token_expired", error
        with setup.client.websocket_connect("/ws") as customer:
            joined = send_join(setup, customer, resume)
            assert joined["type"] == "joined", joined
            assert receive_until(expert, "presence")["status"] == "joined"


FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


def messages_until(ws: Any, kind: str) -> list[dict[str, Any]]:
    """Every message up to and including the first of ``kind``."""
    seen: list[dict[str, Any]] = []
    for _ in range(12):
        seen.append(dict(ws.receive_json()))
        if seen[-1]["type"] == kind:
            return seen
    raise AssertionError(f"no {kind!r} message in {seen}")


def test_another_browser_kept_out_is_told_to_the_expert_once_and_logged(setup: Setup) -> None:
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as customer:
            send_join(setup, customer)
            assert receive_until(expert, "presence")["status"] == "joined"
            for _ in range(3):  # the same person opens the link again and again
                with setup.client.websocket_connect("/ws") as other:
                    error = send_join(setup, other, user_agent=FIREFOX_ON_WINDOWS)
                    assert error["type"] == "error" and error["code"] == "seat_taken", error
            customer.send_json({"type": "chat", "text": "still mine"})
            seen = messages_until(expert, "chat")
    told = [m for m in seen if m["type"] == "presence"]
    assert len(told) == 1, told
    assert told[0]["role"] == "customer" and told[0]["status"] == "joined"  # the call goes on
    assert "another browser (Firefox 120 on Windows)" in told[0]["detail"], told
    assert "kept out" in told[0]["detail"]
    events = setup.client.get(f"/api/sessions/{setup.session_id}/recording/events", headers=setup.auth)
    refused = [e for e in map(json.loads, events.text.splitlines()) if e["type"] == "seat_refused"]
    assert [(e["role"], e["browser"]) for e in refused] == [("customer", "Firefox 120 on Windows")]


def test_a_copy_of_the_customers_tab_that_takes_the_page_over_is_told_to_the_expert(setup: Setup) -> None:
    """A duplicated tab copies the page's sessionStorage, so it rejoins with the seat's secret; its
    page id is its own, and the older tab is still connected."""
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as first:
            resume = send_join(setup, first, page_id="tab-1")["resume"]
            assert receive_until(expert, "presence")["status"] == "joined"
            with setup.client.websocket_connect("/ws") as copy:
                assert send_join(setup, copy, resume, page_id="tab-2")["type"] == "joined"
                assert receive_until(first, "replaced")
                presence = receive_until(expert, "presence")
                assert presence["status"] == "joined", presence
                assert "another tab" in presence.get("detail", ""), presence


def test_a_reload_or_the_same_page_coming_back_is_not_a_takeover(setup: Setup) -> None:
    """A reload closes its socket (4000) as the page unloads, so the older socket is gone when the new
    page joins; the same page rejoining while the server still holds its dropped socket names the
    same page id."""
    with setup.client.websocket_connect("/ws", headers=setup.auth) as expert:
        join_expert(setup, expert)
        with setup.client.websocket_connect("/ws") as first:
            resume = send_join(setup, first, page_id="load-1")["resume"]
            assert receive_until(expert, "presence")["status"] == "joined"
            first.close(code=4000)
        assert receive_until(expert, "presence")["status"] == "reconnecting"
        with setup.client.websocket_connect("/ws") as reloaded:
            assert send_join(setup, reloaded, resume, page_id="load-2")["type"] == "joined"
            presence = receive_until(expert, "presence")
            assert presence["status"] == "joined" and "detail" not in presence, presence
            with setup.client.websocket_connect("/ws") as same_page:
                assert send_join(setup, same_page, resume, page_id="load-2")["type"] == "joined"
                presence = receive_until(expert, "presence")
                assert presence["status"] == "joined" and "detail" not in presence, presence
