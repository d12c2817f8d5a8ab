"""GET /api/sessions/{id}/playback and the playback page: what the player gets from a session's files."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.recordings.files import recording_files
from server.recordings.playback import CUT_OFF_LOG
from server.recordings.recorder import probe_duration_s
from server.records.models import RepairSession
from tests.server.seeded_recordings import HALF_SCALE, board_session_events, seed_session

CUT_LINE = '{"at":"2026-11-22T11:00:01.600Z","t_ms":1600,"type":"chat","from_ro'


def test_the_player_gets_steps_chat_marks_and_the_ar_track(
    app: Starlette, expert_client: TestClient, trainer_client: TestClient
) -> None:
    ids = seed_session(app, expert_client, events=board_session_events())
    response = trainer_client.get(f"/api/sessions/{ids['session_id']}/playback")
    assert response.status_code == 200, response.text
    data = response.json()

    assert data["case"]["id"] == ids["case_id"] and data["case"]["title"] == "Board crackles"
    assert data["session"]["id"] == ids["session_id"]
    assert data["recording"]["status"] == "complete"
    assert data["recording"]["media_url"] == f"/api/sessions/{ids['session_id']}/recording/media"
    assert data["warnings"] == [] and data["events_cut_off"] is False
    assert data["procedure"]["id"] == "board-connector-reseat"
    assert list(data["procedures"]) == ["board-connector-reseat"]
    # Chosen before the recording started (t_ms null): in force from 0. The vision-made change is kept.
    assert [(c["step_id"], c["t_ms"], c["title"], c["by"]) for c in data["chapters"]] == [
        ("locate", 0, "1. Find the board", "expert"),
        ("find-header", 700, "2. Find header J5", "vision"),
    ]
    assert [(c["t_ms"], c["from_role"], c["text"]) for c in data["chat"]] == [
        (300, "expert", "Please unplug the power cord first"),
        (900, "customer", "The J5 plug looks tilted"),
    ]
    marks = {m["id"]: m for m in data["marks"]}
    assert marks["m_1"]["added_t_ms"] == 800 and marks["m_1"]["removed_t_ms"] == 1400
    assert marks["m_1"]["points_ref_px"] == [[100, 100], [200, 150]] and marks["m_1"]["anchored"] is True
    assert marks["m_2"]["removed_t_ms"] is None and marks["m_2"]["points_frame_fraction"]
    # The AR track is on the frame's time, not the time the line was written.
    assert [(a["t_ms"], a["found"], a["step_id"]) for a in data["ar"]] == [
        (420, True, "locate"),
        (980, False, "find-header"),
    ]
    assert data["ar"][0]["homography"] == HALF_SCALE and data["ar"][0]["frame_size"] == [320, 240]
    assert data["snapshots"] == []


def test_a_cut_off_last_line_is_skipped_with_a_warning(app: Starlette, expert_client: TestClient) -> None:
    ids = seed_session(app, expert_client, events=board_session_events(), events_tail=CUT_LINE)
    data = expert_client.get(f"/api/sessions/{ids['session_id']}/playback").json()
    assert data["events_cut_off"] is True
    assert CUT_OFF_LOG in data["warnings"]
    # Everything before the cut is still there.
    assert len(data["chat"]) == 2 and len(data["chapters"]) == 2 and len(data["ar"]) == 2


def test_a_partial_recording_whose_last_cluster_is_cut_off_still_plays(
    app: Starlette, expert_client: TestClient
) -> None:
    ids = seed_session(app, expert_client, events=board_session_events(), status="partial")
    media = recording_files(app.state.services.settings.recordings_dir, ids["session_id"]).media
    whole = media.read_bytes()
    media.write_bytes(whole[: len(whole) * 2 // 3])  # a kill in the middle of the last cluster
    duration = probe_duration_s(media)
    assert duration is not None
    with app.state.services.db.session() as s:
        row = s.get(RepairSession, ids["session_id"])
        assert row is not None
        row.recording_duration_s = duration
    data = expert_client.get(f"/api/sessions/{ids['session_id']}/playback").json()
    assert f"the recording was cut off by a server stop: it ends at {duration:.1f} s" in data["warnings"]
    assert data["recording"]["media_url"] is not None
    # The player can still fetch it, in ranges (seeking).
    part = expert_client.get(data["recording"]["media_url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100


def test_a_session_without_a_recording_still_shows_its_log(app: Starlette, expert_client: TestClient) -> None:
    ids = seed_session(app, expert_client, events=board_session_events(), media=False, status="declined")
    data = expert_client.get(f"/api/sessions/{ids['session_id']}/playback").json()
    assert data["recording"]["status"] == "declined" and data["recording"]["media_url"] is None
    assert any("declined the recording" in w for w in data["warnings"])
    assert len(data["chat"]) == 2

    bare = seed_session(app, expert_client, events=None, media=False, status="none")
    data = expert_client.get(f"/api/sessions/{bare['session_id']}/playback").json()
    assert data["recording"]["media_url"] is None
    assert data["chapters"] == [] and data["chat"] == [] and data["procedure"] is None
    assert any("not recorded" in w for w in data["warnings"])
    assert any("no event log" in w for w in data["warnings"])


def test_a_recording_whose_file_is_gone_says_so(app: Starlette, expert_client: TestClient) -> None:
    ids = seed_session(app, expert_client, events=board_session_events())
    recording_files(app.state.services.settings.recordings_dir, ids["session_id"]).media.unlink()
    data = expert_client.get(f"/api/sessions/{ids['session_id']}/playback").json()
    assert data["recording"]["media_url"] is None
    assert any("file is missing" in w for w in data["warnings"])


def test_unknown_session_and_signed_out(client: TestClient, trainer_client: TestClient) -> None:
    response = trainer_client.get("/api/sessions/nosuchsession00000000/playback")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "nosuchsession00000000" in response.json()["error"]["message"]
    assert client.get("/api/sessions/nosuchsession00000000/playback").status_code == 401


def test_playback_and_library_pages_need_a_sign_in(client: TestClient, trainer_client: TestClient) -> None:
    for path in ("/playback/abc", "/library"):
        signed_out = client.get(path, follow_redirects=False)
        assert signed_out.status_code == 303 and signed_out.headers["location"] == f"/?next={path}"
        page = trainer_client.get(path)
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/playback.js">' in trainer_client.get("/playback/abc").text
    assert 'data-testid="library-results"' in trainer_client.get("/library").text
