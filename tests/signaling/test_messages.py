"""The protocol's one way in and one way out, without sockets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling import (
    MAX_MESSAGE_BYTES,
    ChatSend,
    Error,
    Join,
    MessageTooLarge,
    Offer,
    ProtocolError,
    parse_client_message,
    serialize,
)


def test_each_client_message_parses_to_its_model() -> None:
    assert parse_client_message('{"type":"join","role":"customer","token":"t","consent":true}') == Join(
        role="customer", token="t", consent=True
    )
    assert parse_client_message('{"type":"offer","sdp":"v=0"}') == Offer(sdp="v=0")
    assert parse_client_message(b'{"type":"chat","text":"hi"}') == ChatSend(text="hi")
    assert parse_client_message('{"type":"ice","candidate":"","sdpMid":"0","sdpMLineIndex":0}').type == "ice"
    assert parse_client_message('{"type":"end_session"}').type == "end_session"
    assert parse_client_message('{"type":"ping"}').type == "ping"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{nope", "malformed_json"),
        ("[1, 2]", "malformed_message"),
        ('"join"', "malformed_message"),
        ('{"role": "expert"}', "unknown_type"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "join", "role": "ghost"}', "invalid_message"),
        ('{"type": "chat", "text": ""}', "invalid_message"),
        ('{"type": "chat", "text": "hi", "extra": 1}', "invalid_message"),
        ('{"type": "ice", "candidate": "x", "sdpMLineIndex": -1}', "invalid_message"),
        (b"\xff\xfe", "malformed_json"),
    ],
)
def test_bad_messages_get_a_code_and_a_message_that_names_the_problem(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    assert caught.value.code == code
    assert caught.value.message
    assert isinstance(caught.value.to_message(), Error)


def test_the_size_is_checked_before_anything_is_decoded() -> None:
    oversized = '{"type":"chat","text":"' + "x" * MAX_MESSAGE_BYTES + '"}'
    with pytest.raises(MessageTooLarge):
        parse_client_message(oversized)
    # Multi-byte characters count as bytes, not characters.
    with pytest.raises(MessageTooLarge):
        parse_client_message("é" * (MAX_MESSAGE_BYTES // 2 + 1))


def test_chat_text_limit_is_enforced() -> None:
    with pytest.raises(ProtocolError, match="text"):
        parse_client_message(json.dumps({"type": "chat", "text": "x" * 2001}))


def test_serialize_leaves_out_empty_fields_and_round_trips() -> None:
    text = serialize(Join(role="expert", session_id="abc"))
    assert json.loads(text) == {"type": "join", "role": "expert", "session_id": "abc", "consent": False}
    assert parse_client_message(text) == Join(role="expert", session_id="abc")


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_parsing_never_fails_with_anything_but_a_protocol_error(raw: str | bytes) -> None:
    try:
        parse_client_message(raw)
    except ProtocolError:
        pass


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )
)
def test_any_json_value_is_either_a_message_or_a_protocol_error(value: object) -> None:
    for candidate in (value, {"type": "join", "role": value}, {"type": "chat", "text": value}):
        try:
            parse_client_message(json.dumps(candidate))
        except ProtocolError:
            pass
