"""Exports of a real recording: VP8 + two Opus voices in WebM -> H.264 + AAC in MP4, with burn-in.

The recording is a 5 s FakeCamera clip of the board muxed by the server's Recorder (first video
frame 200 ms after the recording started, as a live one would be), with an event log whose ``ar``
summaries carry the clip's true homographies and a step change to ``find-header`` at 1 s.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from procedures import BUILTIN_LIBRARY, ProcedureLibrary
from server.cli import main
from server.cli.common import open_database
from server.clock import utcnow
from server.config import Settings
from server.recordings.audio_mix import AudioMix
from server.recordings.files import recording_files
from server.recordings.recorder import probe_duration_s
from server.records.database import Database
from server.records.models import Case, RepairSession
from tests.clipgen import FakeCamera
from tests.server.made_recordings import (
    PROCEDURE_ID,
    board_camera,
    board_session_events,
    write_events,
    write_recording,
)
from vision.drawing import draw_overlay
from vision.geometry import project_points, reference_corners
from vision.projection import project_annotations

FPS = 30
SECONDS = 5
START_MS = 200
DURATION_TOLERANCE_S = 0.5
BOARD_SIZE = (640, 480)
# Of the pixels the step's marks change, the share where the burned-in export is closer to the marks
# drawn on the true frame at the true pose than the plain export is (H.264 blurs thin label text).
MARK_CLOSER_FRACTION = 0.7
# The press step's touch target, header J5 (procedure.yaml), in reference px.
J5_REF_PX = [[527, 152], [583, 152], [583, 194], [527, 194]]
PRESS_SECONDS = 2
# Where a label's dark box (or its light text) lies, burned-in and plain exports differ by far more
# than this (B + G + R, averaged over 5x5 px: about 240 on J5); two H.264 encodes of the same
# picture differ by under 50 there, in single scattered pixels that the averaging evens out.
LABEL_COVERS_DIFF = 120
# The share of J5's pixels a label may cover: none, but for stray encoder differences.
TARGET_COVERED_FRACTION = 0.02


def record_board(folder: Path, seconds: int, step_id: str) -> tuple[Path, FakeCamera]:
    """A recording folder (recording.webm + events.jsonl) of ``seconds`` of the board, on
    ``step_id`` from 1 s, and the camera that made it."""
    camera = board_camera(seconds * FPS)
    write_recording(folder / "recording.webm", camera, FPS, start_ms=START_MS)
    events = board_session_events(camera, FPS, step_id)
    for event in events:
        if event["type"] == "ar":
            event["frame_t_ms"] += START_MS
    write_events(folder / "events.jsonl", events)
    return folder, camera


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FakeCamera]:
    """A recording on find-header from 1 s, and the camera that made it."""
    return record_board(tmp_path_factory.mktemp("recording"), SECONDS, "find-header")


def data_dir_with_session(root: Path, recording_folder: Path, status: str = "complete") -> tuple[Path, str]:
    """A data dir whose database has one ended session on a board-connector-reseat case, with
    ``recording_folder`` copied in as its recording."""
    data_dir = root / "data"
    db = open_database(Settings(data_dir=data_dir))
    with db.session() as s:
        case = Case(title="Sound card crackles", procedure_id=PROCEDURE_ID)
        s.add(case)
        s.flush()
        row = RepairSession(
            case_id=case.id, token_expires_at=utcnow(), state="ended", recording_status=status
        )
        s.add(row)
        s.flush()
        session_id = row.id
    db.close()
    shutil.copytree(recording_folder, recording_files(data_dir / "recordings", session_id).directory)
    return data_dir, session_id


def decoded_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [(float(f.time or 0.0), f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


def outline_points(camera: FakeCamera, index: int, per_side: int = 12) -> np.ndarray:
    """Points along the projected reference outline of frame ``index`` (corners left out)."""
    return edge_points(project_points(camera.homography(index), reference_corners(*BOARD_SIZE)), per_side)


def expected_overlay(camera: FakeCamera, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The find-header step's marks drawn on the true frame at the true pose, and where they changed it."""
    procedure = ProcedureLibrary.load([BUILTIN_LIBRARY]).get(PROCEDURE_ID)
    assert procedure is not None
    frame = camera.frame(index).bgr
    marks = project_annotations(procedure.step_annotations("find-header"), camera.homography(index))
    drawn = draw_overlay(frame, None, marks)
    changed = np.any(drawn != frame, axis=2)
    return drawn.astype(int), changed


def edge_points(corners: np.ndarray, per_side: int) -> np.ndarray:
    points = []
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        for f in np.linspace(0.1, 0.9, per_side):
            points.append(a + f * (b - a))
    return np.array(points)


def is_outline_green(pixel: np.ndarray) -> bool:
    b, g, r = (int(v) for v in pixel)
    return g > 170 and b < 150 and r < 150 and g - max(b, r) > 60


def is_annotation_orange(pixel: np.ndarray) -> bool:
    b, g, r = (int(v) for v in pixel)
    return r > 190 and 140 < g < 240 and b < 110


def fraction_hit(image: np.ndarray, points: np.ndarray, test: object, reach_px: int = 1) -> float:
    """Share of ``points`` with a pixel passing ``test`` within ``reach_px`` (lines are 2 px wide)."""
    hits = 0
    for x, y in points:
        xi, yi = round(float(x)), round(float(y))
        patch = image[max(yi - reach_px, 0) : yi + reach_px + 1, max(xi - reach_px, 0) : xi + reach_px + 1]
        hits += any(test(p) for row in patch for p in row)  # type: ignore[operator]
    return hits / len(points)


def frame_index_at(t_s: float) -> int:
    """The clip frame shown at recording time ``t_s``."""
    return round((t_s * 1000 - START_MS) * FPS / 1000)


def test_the_export_is_h264_and_aac_and_as_long_as_the_recording(
    recording: tuple[Path, FakeCamera], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recording
    data_dir, session_id = data_dir_with_session(tmp_path, folder)
    out = tmp_path / "session.mp4"
    assert main(["export", "--data-dir", str(data_dir), "--", session_id, str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(out), str(out.with_suffix(".vtt"))]
    assert "2 voice track(s) mixed" in captured.err
    recorded_s = probe_duration_s(folder / "recording.webm")
    assert recorded_s is not None
    with av.open(str(out)) as container:
        assert [s.codec_context.name for s in container.streams.video] == ["h264"]
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert container.duration is not None
        assert abs(container.duration / 1e6 - recorded_s) < DURATION_TOLERANCE_S
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert abs(samples.shape[1] / 48000 - recorded_s) < DURATION_TOLERANCE_S
    # Both voices are in the mix: the customer's 440 Hz and the expert's 660 Hz tones.
    second = samples[0, 48000:96000]
    spectrum = np.abs(np.fft.rfft(second))
    freqs = np.fft.rfftfreq(len(second), 1 / 48000)
    peaks = set(np.round(freqs[np.argsort(spectrum)[-2:]]))
    assert peaks == {440.0, 660.0}
    assert len(decoded_frames(out)) == SECONDS * FPS


def test_the_chapters_name_the_steps_at_their_times(
    recording: tuple[Path, FakeCamera], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recording
    data_dir, session_id = data_dir_with_session(tmp_path, folder)
    out = tmp_path / "chapters.mp4"
    assert main(["export", "--data-dir", str(data_dir), "--", session_id, str(out)]) == 0
    lines = out.with_suffix(".vtt").read_text().splitlines()
    assert lines[0] == "WEBVTT"
    cues = [(lines[i], lines[i + 1]) for i, line in enumerate(lines) if "-->" in line]
    assert cues[0] == ("00:00:00.000 --> 00:00:01.000", "1. Find the board")
    start, end = cues[1][0].split(" --> ")
    assert (start, cues[1][1]) == ("00:00:01.000", "2. Find header J5")
    assert end.startswith("00:00:05.")


def test_burn_in_draws_the_outline_and_the_steps_marks_where_the_device_is(
    recording: tuple[Path, FakeCamera], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, camera = recording
    data_dir, session_id = data_dir_with_session(tmp_path, folder)
    burned, plain = tmp_path / "burned.mp4", tmp_path / "plain.mp4"
    assert main(["export", "--burn-in", "--data-dir", str(data_dir), "--", session_id, str(burned)]) == 0
    assert "overlay drawn on 150 of 150 frames" in capsys.readouterr().err
    assert main(["export", "--data-dir", str(data_dir), "--", session_id, str(plain)]) == 0
    burned_frames, plain_frames = decoded_frames(burned), decoded_frames(plain)
    checked = 0
    for (t_s, image), (_, plain_image) in list(zip(burned_frames, plain_frames, strict=True))[45:140:20]:
        index = frame_index_at(t_s)
        outline = outline_points(camera, index)
        assert fraction_hit(image, outline, is_outline_green) > 0.9, f"outline missing at {t_s:.2f} s"
        assert fraction_hit(plain_image, outline, is_outline_green) < 0.2
        # After 1 s the step is find-header: its rects are drawn on the device.
        # Where the step's marks (rects, arrow, labels) go, the export looks like the overlay drawn on
        # the true frame at the true pose, and unlike the plain export.
        drawn, changed = expected_overlay(camera, index)
        burned_off = np.abs(image.astype(int) - drawn).sum(axis=2)[changed]
        plain_off = np.abs(plain_image.astype(int) - drawn).sum(axis=2)[changed]
        closer = float(np.mean(burned_off < plain_off))
        assert closer > MARK_CLOSER_FRACTION, f"step marks missing at {t_s:.2f} s ({closer:.0%})"
        checked += 1
    assert checked >= 5


def test_burned_in_labels_keep_off_the_steps_touch_target(tmp_path: Path) -> None:
    """On the press step the "press here" label's first place (above its point) covers J5, the
    step's touch target; in the export it must move off J5 as it does live, so what the customer
    presses stays visible: inside J5 the burned-in export is the plain one, give or take H.264."""
    folder, camera = record_board(tmp_path / "press", PRESS_SECONDS, "press")
    data_dir, session_id = data_dir_with_session(tmp_path, folder)
    burned, plain = tmp_path / "burned.mp4", tmp_path / "plain.mp4"
    assert main(["export", "--burn-in", "--data-dir", str(data_dir), "--", session_id, str(burned)]) == 0
    assert main(["export", "--data-dir", str(data_dir), "--", session_id, str(plain)]) == 0
    checked = 0
    for (t_s, image), (_, plain_image) in zip(decoded_frames(burned), decoded_frames(plain), strict=True):
        if t_s < 1.1:  # the press step starts at 1 s
            continue
        j5 = project_points(camera.homography(frame_index_at(t_s)), np.array(J5_REF_PX, dtype=np.float64))
        inside = np.zeros(image.shape[:2], dtype=np.uint8)
        cv2.fillPoly(inside, [np.round(j5).astype(np.int32)], 1)
        inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)  # 2 px off the edge
        off = np.abs(image.astype(int) - plain_image.astype(int)).sum(axis=2).astype(np.float32)
        covered = float(np.mean(cv2.blur(off, (5, 5))[inside] > LABEL_COVERS_DIFF))
        assert covered < TARGET_COVERED_FRACTION, f"a label covers J5 at {t_s:.2f} s ({covered:.0%})"
        checked += 1
    assert checked >= 20


def test_a_cut_off_recording_exports_what_reads_and_says_so(
    recording: tuple[Path, FakeCamera], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recording
    cut_folder = tmp_path / "cut"
    cut_folder.mkdir()
    data = (folder / "recording.webm").read_bytes()
    (cut_folder / "recording.webm").write_bytes(data[: int(len(data) * 0.6)])  # as a kill -9 might leave it
    shutil.copy(folder / "events.jsonl", cut_folder / "events.jsonl")
    data_dir, session_id = data_dir_with_session(tmp_path, cut_folder, status="partial")
    out = tmp_path / "cut.mp4"
    assert main(["export", "--data-dir", str(data_dir), "--", session_id, str(out)]) == 0
    err = capsys.readouterr().err
    assert "the recording is cut off at" in err and "Warning: the recording was cut off" in err
    frames = decoded_frames(out)
    assert SECONDS * FPS * 0.3 < len(frames) < SECONDS * FPS


def test_export_refuses_sessions_without_a_recording(
    recording: tuple[Path, FakeCamera], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = recording
    data_dir, session_id = data_dir_with_session(tmp_path, folder, status="recording")
    assert main(["export", "--data-dir", str(data_dir), "--", session_id, str(tmp_path / "x.mp4")]) == 2
    assert "still being recorded" in capsys.readouterr().err
    assert main(["export", "no-such-session", str(tmp_path / "x.mp4"), "--data-dir", str(data_dir)]) == 2
    assert "no session with id 'no-such-session'" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_audio_mix_sums_tracks_at_their_positions_and_hands_out_whole_frames() -> None:
    mix = AudioMix(channels=1)
    mix.add(0, np.full((1, 1500), 0.25, np.float32))
    mix.add(1000, np.full((1, 1500), 0.5, np.float32))
    first = mix.take(2100, 1024)
    assert first.shape == (1, 2048)
    assert first[0, 999] == 0.25 and first[0, 1000] == 0.75 and first[0, 2047] == 0.5
    mix.add(0, np.ones((1, 10), np.float32))  # too late to mix: dropped, not mixed into later samples
    rest = mix.take(4096, 1024)
    assert rest.shape == (1, 2048)
    assert rest[0, 0] == 0.5 and rest[0, 2500 - 2048] == 0.0


# --- the download ------------------------------------------------------------------------------


@pytest.fixture
def recorded_session(app: Starlette, recording: tuple[Path, FakeCamera]) -> Iterator[str]:
    folder, _ = recording
    db: Database = app.state.services.db
    with db.session() as s:
        case = Case(title="Sound card crackles", procedure_id=PROCEDURE_ID)
        s.add(case)
        s.flush()
        row = RepairSession(
            case_id=case.id, token_expires_at=utcnow(), state="ended", recording_status="complete"
        )
        s.add(row)
        s.flush()
        session_id = row.id
    shutil.copytree(folder, recording_files(app.state.services.settings.recordings_dir, session_id).directory)
    yield session_id


def test_the_download_is_made_once_and_kept_beside_the_recording(
    app: Starlette, trainer_client: TestClient, recorded_session: str
) -> None:
    response = trainer_client.get(f"/api/sessions/{recorded_session}/export.mp4")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    assert "repairsight-sound-card-crackles-" in response.headers["content-disposition"]
    cached = (
        recording_files(app.state.services.settings.recordings_dir, recorded_session).directory / "exports"
    )
    made = (cached / "recording.mp4").stat().st_mtime_ns
    again = trainer_client.get(f"/api/sessions/{recorded_session}/export.mp4")
    assert again.content == response.content
    assert (cached / "recording.mp4").stat().st_mtime_ns == made  # served from the cache
    burned = trainer_client.get(f"/api/sessions/{recorded_session}/export.mp4?burn_in=1")
    assert burned.status_code == 200 and (cached / "recording-burn-in.mp4").is_file()
    assert burned.content != response.content
    vtt = trainer_client.get(f"/api/sessions/{recorded_session}/export.vtt")
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT") and "2. Find header J5" in vtt.text


def test_the_download_explains_why_there_is_none(
    app: Starlette, expert_client: TestClient, client: TestClient
) -> None:
    case = expert_client.post("/api/cases", json={"title": "No video"}).json()
    session = expert_client.post(f"/api/cases/{case['id']}/sessions").json()
    response = expert_client.get(f"/api/sessions/{session['id']}/export.mp4")
    assert response.status_code == 404
    assert "has no recording" in response.json()["error"]["message"]
    with app.state.services.db.session() as s:
        s.get(RepairSession, session["id"]).recording_status = "recording"
    response = expert_client.get(f"/api/sessions/{session['id']}/export.mp4")
    assert response.status_code == 409 and "still being recorded" in response.json()["error"]["message"]
    assert expert_client.get("/api/sessions/nope/export.mp4").status_code == 404
    assert client.get(f"/api/sessions/{session['id']}/export.mp4").status_code == 401
