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


def test_a_copy_of_the_customers_tab_that_takes_the_page_over_is_told_to_the_expert() -> None:
    """A duplicated tab carries the seat's secret (its copied sessionStorage), so it comes back to the
    seat as a resume; but it is another page, and the older tab's socket is still open."""
    machine = SessionMachine("s")
    machine.join("expert", "e1")
    machine.join("customer", "c1", page_id="tab-1")
    copy = machine.join("customer", "c2", resumed=True, page_id="tab-2", older_open=True)
    (told,) = sent(copy, "e1")
    assert told.status == "joined" and "another tab" in (told.detail or ""), told
    assert "device" not in (told.detail or "")  # it holds the secret: the same browser
    assert machine.role_of("c2") == "customer" and sent(copy, "c1")[0].type == "replaced"


def test_a_reload_is_not_a_takeover() -> None:
    """A reload closes its socket as it unloads: by the new page's join the older socket is gone
    (the customer shows ``reconnecting``), though the page id is new."""
    machine = SessionMachine("s")
    machine.join("expert", "e1")
    machine.join("customer", "c1", page_id="load-1")
    machine.media_lost("customer", "c1")
    back = machine.join("customer", "c2", resumed=True, page_id="load-2", older_open=False)
    (told,) = sent(back, "e1")
    assert told.status == "joined" and told.detail is None, told


def test_the_same_page_rejoining_after_a_dropped_network_is_not_a_takeover() -> None:
    """The network dropped silently: the server may still hold the older socket open when the page
    rejoins on another one, but it is the same page."""
    machine = SessionMachine("s")
    machine.join("expert", "e1")
    machine.join("customer", "c1", page_id="tab-1")
    back = machine.join("customer", "c2", resumed=True, page_id="tab-1", older_open=True)
    assert sent(back, "e1")[0].detail is None
    # A page that names no page id cannot be told from its own page coming back: not a takeover.
    unnamed = machine.join("customer", "c3", resumed=True, older_open=True)
    assert sent(unnamed, "e1")[0].detail is None


def test_another_browser_kept_out_of_the_seat_is_told_to_the_expert_with_the_status_unchanged() -> None:
    machine = SessionMachine("s")
    machine.join("expert", "e1")
    machine.join("customer", "c1")
    (told,) = sent(machine.customer_kept_out("Firefox 120 on Windows"), "e1")
    assert told.role == "customer" and told.status == "joined"
    assert "another browser (Firefox 120 on Windows)" in (told.detail or "") and "kept out" in told.detail
    machine.media_lost("customer", "c1")
    assert sent(machine.customer_kept_out(None), "e1")[0].status == "reconnecting"
    assert machine.role_of("c1") == "customer"  # the customer keeps the seat
    assert SessionMachine("t").customer_kept_out(None) == []  # no expert yet: nobody to tell


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
