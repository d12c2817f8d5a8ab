"""The session state machine: who is connected and what everyone is told."""

from __future__ import annotations

import pytest

from signaling import ChatMessage, ChatSend, EndSession, Join, Ping, ProtocolError
from signaling.state import CLOSE_REPLACED, CLOSE_SESSION_ENDED, Close, Send, SessionMachine


def sent(actions: list, connection_id: str) -> list:  # type: ignore[type-arg]
    return [a.message for a in actions if isinstance(a, Send) and a.connection_id == connection_id]


def test_joining_tells_the_other_side() -> None:
    machine = SessionMachine("s")
    assert machine.join("customer", "c1") == []  # nobody to tell yet
    actions = machine.join("expert", "e1")
    assert [m.model_dump(exclude_none=True) for m in sent(actions, "c1")] == [
        {"type": "presence", "role": "expert", "status": "joined"}
    ]
    assert machine.peers_seen_by("expert") == {"customer": "joined"}


def test_a_newer_tab_replaces_the_older_one_which_is_told_and_closed() -> None:
    machine = SessionMachine("s")
    machine.join("customer", "c1")
    actions = machine.join("customer", "c2")
    assert sent(actions, "c1")[0].type == "replaced"
    assert Close("c1", CLOSE_REPLACED, "replaced") in actions
    assert machine.role_of("c2") == "customer" and machine.role_of("c1") is None
    with pytest.raises(ProtocolError) as caught:
        machine.check_allowed("c1", ChatSend(text="from the old tab"))
    assert caught.value.code == "not_joined"


def test_the_other_side_is_told_when_a_page_is_taken_over_by_another_tab() -> None:
    machine = SessionMachine("s")
    machine.join("expert", "e1")
    first = machine.join("customer", "c1")
    assert sent(first, "e1")[0].detail is None
    taken_over = machine.join("customer", "c2")
    (told,) = sent(taken_over, "e1")
    assert told.status == "joined" and "another tab or device" in (told.detail or "")


def test_only_the_expert_may_end_the_session() -> None:
    machine = SessionMachine("s")
    machine.join("customer", "c1")
    machine.join("expert", "e1")
    with pytest.raises(ProtocolError) as caught:
        machine.check_allowed("c1", EndSession())
    assert caught.value.code == "forbidden"
    assert machine.check_allowed("e1", EndSession()) == "expert"


def test_messages_need_a_join_first_and_a_second_join_is_refused() -> None:
    machine = SessionMachine("s")
    with pytest.raises(ProtocolError, match="join"):
        machine.check_allowed("x", Ping())
    machine.join("expert", "e1")
    with pytest.raises(ProtocolError) as caught:
        machine.check_allowed("e1", Join(role="expert", session_id="s"))
    assert caught.value.code == "already_joined"


def test_a_drop_shows_reconnecting_then_left() -> None:
    machine = SessionMachine("s")
    machine.join("customer", "c1")
    machine.join("expert", "e1")
    assert sent(machine.media_lost("customer", "c1"), "e1")[0].status == "reconnecting"
    assert machine.presence["customer"] == "reconnecting"
    assert sent(machine.leave("customer", "c1"), "e1")[0].status == "left"
    # A stale connection's events change nothing.
    assert machine.leave("customer", "c1") == []
    assert machine.media_lost("customer", "old") == []


def test_a_rejoin_during_the_grace_period_is_joined_again() -> None:
    machine = SessionMachine("s")
    machine.join("expert", "e1")
    machine.join("customer", "c1")
    machine.media_lost("customer", "c1")
    actions = machine.join("customer", "c2")
    assert sent(actions, "e1")[0].status == "joined"
    assert machine.leave("customer", "c1") == []  # the old socket's grace timer fires late: ignored
    assert machine.presence["customer"] == "joined"


def test_chat_goes_to_both_sides() -> None:
    machine = SessionMachine("s")
    machine.join("customer", "c1")
    machine.join("expert", "e1")
    line = ChatMessage(id="m1", from_role="customer", text="hello", sent_at="2026-01-01T00:00:00Z")
    assert {a.connection_id for a in machine.broadcast(line)} == {"c1", "e1"}


def test_ending_tells_and_closes_everyone_once() -> None:
    machine = SessionMachine("s")
    machine.join("customer", "c1")
    machine.join("expert", "e1")
    actions = machine.end("done")
    assert sent(actions, "c1")[0].type == "session_ended"
    assert Close("e1", CLOSE_SESSION_ENDED, "session ended") in actions
    assert machine.end("again") == []
    with pytest.raises(ProtocolError) as caught:
        machine.join("customer", "c3")
    assert caught.value.code == "session_ended"
