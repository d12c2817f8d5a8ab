"""JSON read with limits: what made ``json.loads`` crash is refused with a reason (issue 15, finding 6)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling.json_limits import MAX_DEPTH, MAX_NUMBER_CHARS, JSONRejected, depth_over, loads


def test_ordinary_json_reads_as_json() -> None:
    text = '{"type": "annotate", "points_frame_px": [[1.5, 2], [3, 4e2]], "ok": true, "x": null}'
    assert loads(text) == json.loads(text)
    assert loads(b"[-12345678901234567890, 0.1]") == [-12345678901234567890, 0.1]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("[" * 100_000, "nested more than"),  # json.loads: RecursionError
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested more than"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested more than"),
        ("1" * 5000, "a number of 5000 characters"),  # json.loads: ValueError past 4300 digits
        ('{"n": ' + "9" * 4301 + "}", "a number of 4301 characters"),
        ('{"n": 0.' + "1" * 40 + "}", "a number of"),
        ("1e999", "out of range"),
        ('{"x": NaN}', "NaN is not a JSON value"),
        ("[-Infinity]", "-Infinity is not a JSON value"),
        (b"\xff\xfe", "not valid UTF-8"),
        ("{nope", "Expecting property name"),
        ("", "Expecting value"),
    ],
)
def test_what_would_crash_the_decoder_is_refused_with_a_reason(raw: str | bytes, says: str) -> None:
    with pytest.raises(JSONRejected, match=says):
        loads(raw)


def test_the_limits_are_exactly_where_they_say() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    assert not depth_over([[[]]], 3) and depth_over([[[[]]]], 3)
    assert not depth_over({"a": [1, {"b": 2}]}, 3) and depth_over({"a": [1, {"b": [2]}]}, 3)


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_text_reads_or_is_refused_never_anything_else(raw: str | bytes) -> None:
    try:
        loads(raw)
    except JSONRejected:
        pass
