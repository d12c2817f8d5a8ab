"""The event log: its writers, its reader (a cut-off last line included) and its time helpers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from server.recordings.eventlog import (
    EventLog,
    EventType,
    append_after_crash,
    event_at,
    event_ms,
    read_events,
)


def test_each_writer_writes_its_type_and_fields_on_the_logs_clock(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    clock = [None, 40, 41, 42, 43, 44]
    log = EventLog(path, clock_ms=lambda: clock.pop(0))
    log.join("customer", None)
    log.chat("c1", "expert", "hello")
    log.step_changed("locate", 0, "server")
    log.step_completed("locate", "vision", t_frame_ms=39)
    log.ar(frame_t_ms=38, step_id="locate", found=True, frame_size=(640, 480), homography=[[1, 0, 0]] * 3)
    log.session_ended("the expert ended the session")
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["type"], e["t_ms"]) for e in lines] == [
        ("join", None),
        ("chat", 40),
        ("step_changed", 41),
        ("step_completed", 42),
        ("ar", 43),
        ("session_ended", 44),
    ]
    assert lines[1] | {"at": None} == {
        "at": None,
        "t_ms": 40,
        "type": "chat",
        "id": "c1",
        "from_role": "expert",
        "text": "hello",
    }
    assert lines[3]["t_frame_ms"] == 39 and lines[4]["frame_size"] == [640, 480]
    assert all(line["at"].endswith("Z") for line in lines)


def test_a_cut_off_last_line_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, clock_ms=lambda: 42)
    log.join("customer", None)
    log.chat("c1", "customer", "hello")
    log.close()
    with open(path, "a") as f:
        f.write('{"at":"2026-11-22T10:00:00Z","type":"ch')
    events, cut_off = read_events(path)
    assert [e["type"] for e in events] == ["join", "chat"]
    assert events[0]["t_ms"] == 42
    assert cut_off


def test_reading_only_some_types_skips_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, clock_ms=lambda: 1)
    log.step_changed("locate", 0, "server")
    log.chat("c1", "customer", "the step_changed plug")  # the type's name in a text is not its type
    log.ar(1, "locate", False, (640, 480), None)
    log.close()
    events, _ = read_events(path, [EventType.STEP_CHANGED])
    assert [e["type"] for e in events] == ["step_changed"]


def test_recovery_appends_on_a_line_of_its_own_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"at":"2026-11-22T10:00:00Z","t_ms":5,"type":"join","role":"customer"}\n{"at":"2026')
    append_after_crash(path, EventType.SESSION_ENDED, reason="stopped", recovered=True)
    events, cut_off = read_events(path)
    assert [e["type"] for e in events] == ["join", "session_ended"] and events[1]["recovered"] is True
    assert not cut_off  # the cut line is now in the middle, skipped as damaged
    append_after_crash(tmp_path / "missing.jsonl", EventType.SESSION_ENDED, reason="stopped")
    assert not (tmp_path / "missing.jsonl").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1500, 1500), (12.7, 12), (None, 0), (-3, 0), (True, 0), ("5", 0), (float("nan"), 0), (float("inf"), 0)],
)
def test_event_ms_is_the_recording_clock_with_before_the_start_as_zero(value: object, expected: int) -> None:
    assert event_ms({"t_ms": value}) == expected
    assert event_ms({"frame_t_ms": value}, "frame_t_ms") == expected


def test_event_at_reads_utc_moments() -> None:
    assert event_at({"at": "2026-11-22T10:00:00.250Z"}) == datetime(2026, 11, 22, 10, 0, 0, 250000)
    assert event_at({"at": "2026-11-22T11:00:00+01:00"}) == datetime(2026, 11, 22, 10, 0, 0)
    assert event_at({"at": "yesterday"}) is None and event_at({}) is None
