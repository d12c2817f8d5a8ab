"""Fuzzing ``/ws`` and the REST bodies: no input gets a 5xx or a close with 1011 (issue 15,
finding 6).

Bounded, so it runs in CI in seconds: a few hundred frames thrown at a joined customer and a
joined expert (garbage, messages with a field mutated, nesting and numbers past the JSON limits,
mutated offers and candidates), and bodies thrown at the routes that read one. After every frame
a ``ping`` must still get its ``pong``: the socket is open and the session goes on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from signaling.messages import CLIENT_TYPES
from tests.offers import browser_offer
from tests.server.web.wire import LiveSetup, answers_to

WS_EXAMPLES = 300
REST_EXAMPLES = 200


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True
    )


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

TYPES_BUT_THE_END = [kind for kind in CLIENT_TYPES if kind != "end_session"]
# One valid message of each kind the fuzzer may send (``end_session`` would end the session, and
# ``join`` on a joined socket is covered by the mutations of ``type``).
VALID: list[dict[str, Any]] = [
    {"type": "chat", "text": "Can you turn the board over?"},
    {"type": "ping"},
    {"type": "ice", "candidate": "candidate:0 1 UDP 2122252543 192.0.2.2 49625 typ host", "sdpMid": "0"},
    {"type": "client_problem", "problem": "the camera stopped"},
    {"type": "link_quality", "weak": True, "level": 3, "sent_kbps": 131, "video_fps": 9.7, "loss_pct": 4.2},
    {"type": "set_procedure", "procedure_id": "board-connector-reseat"},
    {"type": "step", "action": "next"},
    {
        "type": "annotate",
        "shape": "arrow",
        "points_frame_px": [[10, 10], [200, 120]],
        "frame_size": [640, 480],
    },
    {
        "type": "annotate",
        "shape": "text",
        "points_frame_px": [[10, 10]],
        "frame_size": [640, 480],
        "text": "J3",
    },
    {"type": "remove_annotation", "id": "m_1"},
    {"type": "pointer", "x_frame_px": 320.0, "y_frame_px": 240.0, "frame_size": [640, 480]},
    {"type": "snapshot"},
    {"type": "burn_in", "enabled": False},
    {"type": "set_language", "language": "de"},
]


@st.composite
def mutated_messages(draw: st.DrawFn) -> str:
    message = dict(draw(st.sampled_from(VALID)))
    field = draw(st.sampled_from([*message, "extra"]))
    action = draw(st.sampled_from(["replace", "drop", "type"]))
    if action == "drop":
        message.pop(field, None)
    elif action == "type":
        message["type"] = draw(st.sampled_from(TYPES_BUT_THE_END) | st.text(max_size=8))
    else:
        message[field] = draw(json_values)
    return json.dumps(message)


@st.composite
def past_the_limits(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=20, max_value=30_000))
    digits = draw(st.integers(min_value=20, max_value=5_000))
    return draw(
        st.sampled_from(
            [
                "[" * depth,
                '{"type": "chat", "text": ' + "[" * depth + "]" * depth + "}",
                '{"type": "pointer", "x_frame_px": ' + "9" * digits + ', "frame_size": [640, 480]}',
                '{"type": "pointer", "x_frame_px": 1e999, "frame_size": [1, 1]}',
                '{"type": "ice", "candidate": "", "sdpMLineIndex": ' + "1" * digits + "}",
            ]
        )
    )


@st.composite
def mutated_offers(draw: st.DrawFn) -> str:
    lines = browser_offer().split("\r\n")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        how = draw(st.sampled_from(["drop", "cut", "junk"]))
        if how == "drop":
            del lines[at]
        elif how == "cut":
            lines[at] = lines[at][: draw(st.integers(min_value=0, max_value=len(lines[at])))]
        else:
            lines[at] = draw(st.text(max_size=20))
    return json.dumps({"type": "offer", "sdp": "\r\n".join(lines)})


candidates = st.lists(
    st.sampled_from(["1", "udp", "UDP", "typ", "host", "raddr", "rport", "0.0.0.0", "x", "-1", "99999"]),
    max_size=12,
).map(lambda words: json.dumps({"type": "ice", "candidate": "candidate:" + " ".join(words), "sdpMid": "0"}))

frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    mutated_messages(),
    mutated_messages(),
    past_the_limits(),
    candidates,
    mutated_offers(),
    st.sampled_from([json.dumps({"type": "offer", "sdp": sdp}) for sdp in ("", "hello world", "v=0")]),
)


@pytest.fixture
def live(client: TestClient, admin_token: str) -> LiveSetup:
    return LiveSetup.make(client, admin_token)


def test_no_frame_closes_a_socket_with_an_error_or_stops_the_session(live: LiveSetup) -> None:
    with (
        live.client.websocket_connect("/ws") as customer,
        live.client.websocket_connect("/ws", headers=live.auth) as expert,
    ):
        live.join_customer(customer)
        live.join_expert(expert)
        sockets = {"customer": customer, "expert": expert}
        # The customer's answer to its first offer: later candidates are added, not held back.
        answers_to(customer, json.dumps({"type": "offer", "sdp": browser_offer()}))

        closed: list[str] = []

        @fuzz(WS_EXAMPLES)
        @given(who=st.sampled_from(sorted(sockets)), frame=frames)
        def throw(who: str, frame: str) -> None:
            # A socket the server closed stays closed: fail at once rather than wait on it.
            assert not closed, f"the server closed a socket: {closed[0]}"
            try:
                answers = answers_to(sockets[who], frame)
            except WebSocketDisconnect as exc:
                closed.append(f"the {who}'s, with {exc.code}, after {frame[:200]!r}")
                raise
            for answer in answers:
                assert answer["type"] != "error" or answer["code"] != "internal", answer

        throw()


def test_no_body_gets_a_server_error(live: LiveSetup) -> None:
    case = live.client.post("/api/cases", json={"title": "Fuzzed"}, headers=live.auth).json()
    session = live.client.post(f"/api/cases/{case['id']}/sessions", headers=live.auth).json()
    routes = [
        ("POST", "/api/login", {}),
        ("POST", "/api/password", live.auth),
        ("POST", "/api/cases", live.auth),
        ("PATCH", f"/api/cases/{case['id']}", live.auth),
        ("POST", f"/api/sessions/{session['id']}/end", live.auth),
        ("POST", f"/join/{live.token}/problem", {}),
    ]
    bodies = st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(
            st.sampled_from(
                ["title", "notes", "status", "outcome", "username", "password", "problem", "reason"]
            ),
            json_values,
            max_size=4,
        ).map(lambda value: json.dumps(value).encode()),
        past_the_limits().map(str.encode),
    )
    content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""])

    @fuzz(REST_EXAMPLES)
    @given(route=st.sampled_from(routes), body=bodies, content_type=content_types)
    def throw(route: tuple[str, str, dict[str, str]], body: bytes, content_type: str) -> None:
        method, path, auth = route
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        # The TestClient raises what the app raised; a handled error must still not be a 5xx.
        answer = live.client.request(method, path, content=body, headers=headers)
        assert answer.status_code < 500, (answer.status_code, answer.text)

    throw()
