"""An MP4 export runs in a child process: a crash there fails that export alone, with a message a
trainer can act on; the server, its live sessions and the next export go on, and no part of the
crashed file is left (``server/recordings/exports.py``)."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import threading
import time
from pathlib import Path

import av
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from procedures import ProcedureLibrary
from server.clock import utcnow
from server.recordings import exports
from server.recordings.exports import ExportSource, ProcedureFolders, cached_export, make_cached_export
from server.recordings.files import RecordingFiles, recording_files
from server.recordings.jobs import JobCrashed
from server.records.database import Database
from server.records.models import Case, RepairSession
from signaling.messages import PROTOCOL_VERSION
from tests.server.made_recordings import (
    PROCEDURE_ID,
    board_camera,
    board_session_events,
    write_events,
    write_recording,
)
from tests.server.recordings.crashing_export import crash_midway

FPS = 30
SECONDS = 5
WAIT_S = 60


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording folder: a 5 s board clip (recording.webm) and its event log."""
    folder = tmp_path_factory.mktemp("recording")
    camera = board_camera(SECONDS * FPS)
    write_recording(folder / "recording.webm", camera, FPS)
    write_events(folder / "events.jsonl", board_session_events(camera, FPS))
    return folder


@pytest.fixture
def recorded_session(app: Starlette, recording: Path) -> str:
    """An ended session with ``recording`` as its recording."""
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
    shutil.copytree(
        recording, recording_files(app.state.services.settings.recordings_dir, session_id).directory
    )
    return session_id


@pytest.fixture
def source(tmp_path: Path, recording: Path) -> ExportSource:
    """``recording`` as an export's source, without a server."""
    shutil.copytree(recording, tmp_path / "session")
    return ExportSource(
        "s1", RecordingFiles(tmp_path / "session"), "complete", None, PROCEDURE_ID, "Crackles"
    )


def test_a_crashed_export_fails_alone_and_the_next_request_makes_it(
    app: Starlette,
    client: TestClient,
    expert_client: TestClient,
    recorded_session: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = expert_client.post("/api/cases", json={"title": "Printer jams"}).json()
    live = expert_client.post(f"/api/cases/{case['id']}/sessions").json()
    with client.websocket_connect("/ws") as customer:
        customer.send_json(
            {
                "type": "join",
                "version": PROTOCOL_VERSION,
                "role": "customer",
                "token": live["customer_url"].rsplit("/", 1)[1],
                "consent": True,
            }
        )
        assert customer.receive_json()["type"] == "joined"

        monkeypatch.setattr(exports, "export_in_child", crash_midway)
        crashed = expert_client.get(f"/api/sessions/{recorded_session}/export.mp4?burn_in=1")
        assert crashed.status_code == 500
        assert crashed.json()["error"] == {
            "code": "export_failed",
            "message": "the export failed while making the file; try again, and if it fails again, "
            "report it with the session id",
        }
        made = recording_files(app.state.services.settings.recordings_dir, recorded_session).exports
        assert list(made.iterdir()) == []  # neither the half-made file nor the child's folder

        # The server, its live session and the session API go on.
        customer.send_json({"type": "chat", "text": "still here after the crash"})
        assert receive_until(customer, "chat")["text"] == "still here after the crash"
        answer = expert_client.get(f"/api/sessions/{live['id']}")
        assert answer.status_code == 200 and answer.json()["state"] == "live"

        monkeypatch.undo()
        again = expert_client.get(f"/api/sessions/{recorded_session}/export.mp4?burn_in=1")
        assert again.status_code == 200, again.text
        assert again.headers["content-type"] == "video/mp4"
        assert [p.name for p in made.iterdir()] == ["recording-burn-in.mp4"]
        with av.open(str(made / "recording-burn-in.mp4")) as mp4:
            assert mp4.streams.video[0].codec_context.name == "h264"


def receive_until(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(10):
        message = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


def test_a_real_export_killed_while_it_writes_leaves_nothing(source: ExportSource) -> None:
    """The real export, its child killed once it has started writing (as a crash in the encoder ends
    it): the caller gets JobCrashed, the cache has no file and no leftovers, and the next call makes it."""
    out = cached_export(source, burn_in=True)
    failed: list[BaseException] = []

    def export() -> None:
        try:
            make_cached_export(source, ProcedureLibrary.with_builtin(), burn_in=True)
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    worker = threading.Thread(target=export)
    worker.start()
    try:
        os.kill(wait_for_writing_child(out.parent), signal.SIGKILL)
    finally:
        worker.join(WAIT_S)
    assert len(failed) == 1 and isinstance(failed[0], JobCrashed), failed
    assert list(out.parent.iterdir()) == []
    # What a server killed while it made the file leaves; the next export clears it away.
    left = out.parent / f".making-{out.name}-killed"
    left.mkdir()
    (left / out.name).write_bytes(b"half")
    assert make_cached_export(source, ProcedureLibrary.with_builtin(), burn_in=True) == out
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def wait_for_writing_child(exports_dir: Path) -> int:
    """The pid of the export's child process once a file has appeared in its folder."""
    deadline = time.monotonic() + WAIT_S
    while not any(exports_dir.glob(".making-*/*")):
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.001)
    children = spawned_children()
    assert len(children) == 1, f"the export runs in no child process of its own: {children}"
    return children[0]


def spawned_children() -> list[int]:
    """This process's children started by multiprocessing's spawn (not its resource tracker)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == os.getpid() and b"spawn_main" in command:
            found.append(int(status.parent.name))
    return found


def test_the_procedures_reach_the_child_as_folders_and_load_there_again() -> None:
    library = ProcedureLibrary.with_builtin()
    folders = pickle.loads(pickle.dumps(ProcedureFolders.of(library)))
    lookup = folders.lookup()
    loaded, known = lookup(PROCEDURE_ID), library.get(PROCEDURE_ID)
    assert loaded is not None and known is not None
    assert loaded.step_ids() == known.step_ids()
    assert loaded.step_annotations("find-header") == known.step_annotations("find-header")
    assert lookup(PROCEDURE_ID) is loaded  # loaded once
    assert lookup("no-such-procedure") is None


def test_a_procedure_that_no_longer_loads_is_not_drawn(tmp_path: Path) -> None:
    known = ProcedureLibrary.with_builtin().get(PROCEDURE_ID)
    assert known is not None
    copy = tmp_path / PROCEDURE_ID
    shutil.copytree(known.folder, copy)
    folders = ProcedureFolders({PROCEDURE_ID: copy})
    (copy / "procedure.yaml").write_text("id: [broken")
    assert folders.lookup()(PROCEDURE_ID) is None
