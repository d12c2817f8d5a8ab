"""The timeline of a session, and its chapters: one rule for the player API and the exported ``.vtt``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from procedures import ProcedureLibrary
from server.recordings.timeline import build_timeline
from tests.server.seeded_recordings import event, seed_session

LIBRARY = ProcedureLibrary.with_builtin()
BOARD, ROUTER = "board-connector-reseat", "router-cable-reseat"


def at(seconds: int) -> str:
    return f"2026-11-10T09:00:{seconds:02d}.000Z"


def chapters_of(
    events: list[dict[str, Any]], end_ms: int = 10_000, default: str | None = None
) -> list[tuple]:
    timeline = build_timeline(events, default)
    return [(c.start_ms, c.end_ms, c.step_id, c.title) for c in timeline.chapters(end_ms, LIBRARY.get)]


def test_same_time_changes_leave_the_later_one_and_repeats_are_one_chapter() -> None:
    events = [
        event(500, "procedure_chosen", procedure_id=BOARD, by="expert"),
        event(500, "step_changed", step_id="locate", index=0, by="expert"),
        event(900, "step_changed", step_id="locate", index=0, by="expert"),
        event(1200, "step_changed", step_id="find-header", index=1, by="expert"),
        event(1300, "procedure_chosen", procedure_id=None, by="expert"),
        event(1400, "step_changed", by="expert"),  # no step id: not a step
    ]
    assert chapters_of(events) == [
        (500, 1200, "locate", "1. Find the board"),
        (1200, 1300, "find-header", "2. Find header J5"),
        (1300, 10_000, None, "No procedure"),
    ]


def test_a_session_that_goes_forward_and_back_gets_a_chapter_for_each_visit() -> None:
    events = [
        event(None, "procedure_chosen", procedure_id=BOARD, by="server"),
        event(None, "step_changed", step_id="locate", index=0, by="server"),
        event(1000, "step_changed", step_id="find-header", index=1, by="vision"),
        event(2000, "step_changed", step_id="press", index=2, by="expert"),
        event(3000, "step_changed", step_id="find-header", index=1, by="expert"),
        event(4000, "step_changed", step_id="press", index=2, by="expert"),
    ]
    assert chapters_of(events, end_ms=5000) == [
        (0, 1000, "locate", "1. Find the board"),
        (1000, 2000, "find-header", "2. Find header J5"),
        (2000, 3000, "press", "3. Press the plug down"),
        (3000, 4000, "find-header", "2. Find header J5"),
        (4000, 5000, "press", "3. Press the plug down"),
    ]


def test_a_session_that_starts_without_a_procedure_has_chapters_from_the_first_step() -> None:
    events = [
        event(1500, "procedure_chosen", procedure_id=ROUTER, by="expert"),
        event(1500, "step_changed", step_id="place-device", index=0, by="expert"),
        event(2500, "step_changed", step_id="point-at-cable", index=1, by="vision"),
    ]
    assert chapters_of(events, end_ms=3000) == [
        (1500, 2500, "place-device", "1. Put the router on the mat"),
        (2500, 3000, "point-at-cable", "2. Touch the power cable"),
    ]


def test_a_changed_procedure_titles_its_steps_from_the_new_procedure() -> None:
    events = [
        event(0, "procedure_chosen", procedure_id=BOARD, by="server"),
        event(0, "step_changed", step_id="locate", index=0, by="server"),
        event(1000, "procedure_chosen", procedure_id=ROUTER, by="expert"),
        event(1000, "step_changed", step_id="place-device", index=0, by="expert"),
        event(2000, "procedure_chosen", procedure_id=None, by="expert"),
        event(3000, "procedure_chosen", procedure_id=BOARD, by="expert"),
        event(3000, "step_changed", step_id="locate", index=0, by="expert"),
    ]
    timeline = build_timeline(events)
    assert timeline.procedure_ids == [BOARD, ROUTER]
    assert chapters_of(events, end_ms=4000) == [
        (0, 1000, "locate", "1. Find the board"),
        (1000, 2000, "place-device", "1. Put the router on the mat"),
        (2000, 3000, None, "No procedure"),
        (3000, 4000, "locate", "1. Find the board"),
    ]


def test_steps_before_any_procedure_is_named_take_the_cases_procedure_and_unknown_ones_their_id() -> None:
    events = [event(0, "step_changed", step_id="press", index=2, by="expert")]
    assert chapters_of(events, end_ms=100, default=BOARD) == [(0, 100, "press", "3. Press the plug down")]
    unloaded = [
        event(0, "procedure_chosen", procedure_id="gone-procedure", by="expert"),
        event(0, "step_changed", step_id="loosen", index=0, by="expert"),
    ]
    assert chapters_of(unloaded, end_ms=100) == [(0, 100, "loosen", "loosen")]


def test_chapters_stop_at_the_recordings_end() -> None:
    events = [
        event(0, "procedure_chosen", procedure_id=BOARD, by="server"),
        event(0, "step_changed", step_id="locate", index=0, by="server"),
        event(900, "step_changed", step_id="find-header", index=1, by="expert"),
        event(1500, "step_changed", step_id="press", index=2, by="expert"),
    ]
    assert chapters_of(events, end_ms=1200) == [
        (0, 900, "locate", "1. Find the board"),
        (900, 1200, "find-header", "2. Find header J5"),
    ]


def test_seconds_on_steps_add_up_returns_and_stop_at_the_end_or_a_cleared_procedure() -> None:
    events = [
        {"at": at(0), "t_ms": None, "type": "step_changed", "step_id": "a", "index": 0},
        {"at": at(10), "t_ms": None, "type": "step_changed", "step_id": "b", "index": 1},
        {"at": at(15), "t_ms": None, "type": "step_changed", "step_id": "a", "index": 0},
    ]
    end = datetime(2026, 11, 10, 9, 0, 45)
    assert build_timeline(events, "p").seconds_on_steps(end) == {("p", "a"): 40.0, ("p", "b"): 5.0}
    ended = [*events, {"at": at(20), "t_ms": None, "type": "session_ended", "reason": "done"}]
    assert build_timeline(ended, "p").seconds_on_steps(None) == {("p", "a"): 15.0, ("p", "b"): 5.0}
    cleared = [*events, {"at": at(18), "t_ms": None, "type": "procedure_chosen", "procedure_id": None}]
    assert build_timeline(cleared, "p").seconds_on_steps(end) == {("p", "a"): 13.0, ("p", "b"): 5.0}
    other = [
        *events,
        {"at": at(18), "t_ms": None, "type": "procedure_chosen", "procedure_id": "q"},
        {"at": at(18), "t_ms": None, "type": "step_changed", "step_id": "a", "index": 0},
    ]
    assert build_timeline(other, "p").seconds_on_steps(end) == {
        ("p", "a"): 13.0,
        ("p", "b"): 5.0,
        ("q", "a"): 27.0,
    }


def test_malformed_events_are_skipped() -> None:
    events = [
        event(0, "procedure_chosen", procedure_id=BOARD, by="server"),
        {"type": "step_changed", "step_id": "locate", "t_ms": "soon"},
        {"type": "ar", "frame_t_ms": 5, "frame_size": "big", "homography": "none"},
        {"type": "chat", "text": 7},
        {"type": "annotation_removed", "id": "never-added"},
        {"t_ms": float("nan"), "type": "chat", "text": "hello", "from_role": "expert"},
    ]
    timeline = build_timeline(events)
    assert [(s.t_ms, s.step_id) for s in timeline.shown] == [(0, "locate")]
    assert [(a.t_ms, a.frame_size, a.homography) for a in timeline.ar] == [(5, None, None)]
    assert [(c.t_ms, c.text) for c in timeline.chat] == [(0, "hello")]


def vtt_cues(text: str) -> list[tuple[int, int, str]]:
    def ms(stamp: str) -> int:
        h, m, s = stamp.split(":")
        return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)

    cues = re.findall(r"^step-\d+\n(\S+) --> (\S+)\n(.*)$", text, flags=re.MULTILINE)
    return [(ms(start), ms(end), title) for start, end, title in cues]


@pytest.mark.parametrize(
    "events",
    [
        pytest.param(
            [
                event(None, "procedure_chosen", procedure_id=BOARD, by="server"),
                event(None, "step_changed", step_id="locate", index=0, by="server"),
                event(400, "step_changed", step_id="find-header", index=1, by="vision"),
                event(800, "step_changed", step_id="locate", index=0, by="expert"),
                event(1200, "step_changed", step_id="press", index=2, by="expert"),
            ],
            id="forward-and-back",
        ),
        pytest.param(
            [
                event(300, "procedure_chosen", procedure_id=BOARD, by="expert"),
                event(300, "step_changed", step_id="locate", index=0, by="expert"),
                event(900, "step_changed", step_id="find-header", index=1, by="expert"),
            ],
            id="starts-without-a-procedure",
        ),
        pytest.param(
            [
                event(None, "procedure_chosen", procedure_id=BOARD, by="server"),
                event(None, "step_changed", step_id="locate", index=0, by="server"),
                event(500, "procedure_chosen", procedure_id=ROUTER, by="expert"),
                event(500, "step_changed", step_id="place-device", index=0, by="expert"),
                event(1000, "procedure_chosen", procedure_id=None, by="expert"),
                event(1300, "procedure_chosen", procedure_id=BOARD, by="expert"),
                event(1300, "step_changed", step_id="press", index=2, by="expert"),
            ],
            id="changes-procedure",
        ),
    ],
)
def test_the_player_and_the_exported_vtt_show_the_same_chapters(
    app: Starlette, expert_client: TestClient, events: list[dict[str, Any]]
) -> None:
    ids = seed_session(app, expert_client, events=events)
    session_id = ids["session_id"]
    player = expert_client.get(f"/api/sessions/{session_id}/playback").json()["chapters"]
    vtt = expert_client.get(f"/api/sessions/{session_id}/export.vtt")
    assert vtt.status_code == 200, vtt.text
    from_player = [(c["t_ms"], c["end_ms"], c["title"]) for c in player]
    assert from_player == vtt_cues(vtt.text)
    assert len(from_player) >= 2
    assert all(not re.fullmatch(r"[a-z-]+", title) for _, _, title in from_player)  # titles, not ids
