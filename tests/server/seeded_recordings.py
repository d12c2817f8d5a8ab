"""Recorded sessions made on disk for the playback and library tests: a real WebM, an event log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.recordings.files import recording_files
from server.records.models import RepairSession
from tests.server.synthetic_packets import opus_packets, record, vp8_packets

# The reference image of board-connector-reseat is 640x480; this maps it onto a 320x240 frame
# shifted by (10, 20): frame = ref / 2 + (10, 20).
HALF_SCALE = [[0.5, 0.0, 10.0], [0.0, 0.5, 20.0], [0.0, 0.0, 1.0]]


def event(t_ms: int | None, kind: str, **fields: Any) -> dict[str, Any]:
    return {"at": "2026-11-22T11:00:00.000Z", "t_ms": t_ms, "type": kind, **fields}


def board_session_events() -> list[dict[str, Any]]:
    """Two steps of board-connector-reseat, chat, an anchored mark added then removed, AR summaries."""
    arrow = {"id": "m_1", "shape": "arrow", "anchored": True, "points_ref_px": [[100, 100], [200, 150]]}
    pinned = {
        "id": "m_2",
        "shape": "circle",
        "anchored": False,
        "points_frame_fraction": [[0.5, 0.5], [0.6, 0.5]],
    }
    return [
        event(None, "procedure_chosen", procedure_id="board-connector-reseat", by="expert"),
        event(None, "step_changed", step_id="locate", index=0, by="expert"),
        event(0, "recording_started"),
        event(0, "consent", given=True),
        event(120, "join", role="customer", user=None),
        event(300, "chat", id="c_1", from_role="expert", text="Please unplug the power cord first"),
        event(
            450,
            "ar",
            frame_t_ms=420,
            step_id="locate",
            found=True,
            frame_size=[320, 240],
            homography=HALF_SCALE,
        ),
        event(700, "step_completed", step_id="locate", by="vision"),
        event(700, "step_changed", step_id="find-header", index=1, by="vision"),
        event(800, "annotation_added", annotation=arrow),
        event(850, "annotation_added", annotation=pinned),
        event(900, "chat", id="c_2", from_role="customer", text="The J5 plug looks tilted"),
        event(
            1000,
            "ar",
            frame_t_ms=980,
            step_id="find-header",
            found=False,
            frame_size=[320, 240],
            homography=None,
        ),
        event(1400, "annotation_removed", id="m_1"),
        event(1500, "session_ended", reason="ended by the expert"),
    ]


def write_events(path: Path, events: list[dict[str, Any]], tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + tail)


def write_webm(path: Path, frames: int = 45) -> float:
    """A real recording (VP8 + Opus) as the recorder writes it; returns its duration in s."""
    return record(path, vp8_packets(frames), opus_packets(frames * 3 // 2)).close()


def seed_session(
    app: Starlette,
    expert: TestClient,
    *,
    title: str = "Board crackles",
    device_model: str = "Creative PCI sound card",
    notes: str = "",
    events: list[dict[str, Any]] | None = None,
    events_tail: str = "",
    media: bool = True,
    status: str = "complete",
    started_at: datetime | None = None,
    case_id: str | None = None,
) -> dict[str, str]:
    """A case (new unless ``case_id``) with one ended session and its files; returns their ids."""
    if case_id is None:
        created = expert.post(
            "/api/cases", json={"title": title, "device_model": device_model, "notes": notes}
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
    session = expert.post(f"/api/cases/{case_id}/sessions")
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]
    files = recording_files(app.state.services.settings.recordings_dir, session_id)
    duration = write_webm(files.media) if media else None
    if events is not None:
        write_events(files.events, events, events_tail)
    with app.state.services.db.session() as s:
        row = s.get(RepairSession, session_id)
        assert row is not None
        row.state = "ended"
        row.recording_status = status
        row.recording_duration_s = duration
        row.consent = status != "declined"
        if started_at is not None:
            row.started_at = started_at
            row.created_at = started_at
    return {"case_id": case_id, "session_id": session_id}
