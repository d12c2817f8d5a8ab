"""``repairsight purge``: only recordings past retention go; the dry run changes nothing; the case says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.cli import main
from server.cli.common import open_database
from server.clock import utcnow
from server.config import Settings
from server.recordings.files import recording_files
from server.records import accounts as auth
from server.records.database import Database
from server.records.models import Case, RepairSession


@dataclass(frozen=True)
class Seed:
    data_dir: Path
    old: str  # ended 40 days ago, 12 min: goes
    old_case: str
    inside: str  # ended 29 days 23 hours ago: stays
    live: str  # live, started long ago: stays
    other_case_recent: str  # another case, ended 10 days ago: stays


def session(db: Database, case_id: str, ended_days_ago: float | None, minutes: float = 12) -> str:
    now = utcnow()
    with db.session() as s:
        if ended_days_ago is None:
            row = RepairSession(
                case_id=case_id,
                token_expires_at=now,
                state="live",
                started_at=now - timedelta(days=60),
                recording_status="recording",
            )
        else:
            ended = now - timedelta(days=ended_days_ago)
            row = RepairSession(
                case_id=case_id,
                token_expires_at=now,
                state="ended",
                started_at=ended - timedelta(minutes=minutes),
                ended_at=ended,
                recording_status="complete",
                recording_duration_s=minutes * 60,
            )
        s.add(row)
        s.flush()
        session_id = row.id
    folder = recording_files(Path(db.engine.url.database or "").parent / "recordings", session_id).directory
    (folder / "snapshots").mkdir(parents=True)
    (folder / "recording.webm").write_bytes(b"\x1aE\xdf\xa3" + bytes(100_000))
    (folder / "events.jsonl").write_text('{"type":"join"}\n')
    (folder / "snapshots" / "a.jpg").write_bytes(b"jpg")
    return session_id


@pytest.fixture
def seed(tmp_path: Path) -> Seed:
    db = open_database(Settings(data_dir=tmp_path))
    with db.session() as s:
        first = Case(title="Old board", notes="Customer calls back on Mondays.")
        other = Case(title="Other case")
        s.add_all([first, other])
        s.flush()
        first_id, other_id = first.id, other.id
    seeded = Seed(
        tmp_path,
        old=session(db, first_id, 40),
        old_case=first_id,
        inside=session(db, first_id, 30 - 1 / 24),
        live=session(db, first_id, None),
        other_case_recent=session(db, other_id, 10),
    )
    db.close()
    return seeded


def folder(seed: Seed, session_id: str) -> Path:
    return recording_files(seed.data_dir / "recordings", session_id).directory


def state(seed: Seed) -> dict[str, tuple[str, bool]]:
    db = open_database(Settings(data_dir=seed.data_dir))
    with db.session() as s:
        rows = {row.id: row.recording_status for row in s.query(RepairSession).all()}
    db.close()
    return {sid: (status, folder(seed, sid).exists()) for sid, status in rows.items()}


def notes(seed: Seed, case_id: str) -> str:
    db = open_database(Settings(data_dir=seed.data_dir))
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        text = case.notes
    db.close()
    return text


def test_the_dry_run_lists_what_would_go_and_changes_nothing(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(seed)
    assert main(["purge", "--older-than-days", "30", "--data-dir", str(seed.data_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("would delete:") == 1 and seed.old in captured.out
    assert "Nothing was deleted; run again with --yes" in captured.err
    assert state(seed) == before
    assert notes(seed, seed.old_case) == "Customer calls back on Mondays."


def test_purge_deletes_only_what_is_past_retention_and_notes_it(
    seed: Seed, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["purge", "--older-than-days", "30", "--yes", "--data-dir", str(seed.data_dir)]) == 0
    assert state(seed) == {
        seed.old: ("purged", False),
        seed.inside: ("complete", True),
        seed.live: ("recording", True),
        seed.other_case_recent: ("complete", True),
    }
    started = (utcnow() - timedelta(days=40, minutes=12)).date().isoformat()
    expected = (
        f"{utcnow().date().isoformat()}: recording of session {seed.old} (12 min, {started}) deleted by the "
        "retention policy (older than 30 days)"
    )
    assert notes(seed, seed.old_case) == f"Customer calls back on Mondays.\n{expected}"
    assert capsys.readouterr().out.strip() == expected
    # A second run finds nothing more.
    assert main(["purge", "--older-than-days", "30", "--yes", "--data-dir", str(seed.data_dir)]) == 0
    assert "nothing to delete" in capsys.readouterr().err
    assert notes(seed, seed.old_case).count("deleted by the retention policy") == 1


def test_the_retention_comes_from_the_environment(
    seed: Seed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_RETENTION_DAYS", "5")
    assert main(["purge", "--yes", "--data-dir", str(seed.data_dir)]) == 0
    after = state(seed)
    assert after[seed.other_case_recent] == ("purged", False) and after[seed.inside] == ("purged", False)
    assert after[seed.live] == ("recording", True)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], None, "give --older-than-days N or set REPAIRSIGHT_RETENTION_DAYS"),
        (["--older-than-days", "0"], None, "must be at least 1 day"),
        ([], "thirty", "$REPAIRSIGHT_RETENTION_DAYS 'thirty': not a whole number"),
    ],
)
def test_a_missing_or_bad_retention_exits_2(
    seed: Seed,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("REPAIRSIGHT_RETENTION_DAYS", raising=False)
    if env is not None:
        monkeypatch.setenv("REPAIRSIGHT_RETENTION_DAYS", env)
    before = state(seed)
    assert main(["purge", "--yes", *args, "--data-dir", str(seed.data_dir)]) == 2
    assert message in capsys.readouterr().err
    assert state(seed) == before


def test_a_purged_recording_is_gone_from_the_api_too(seed: Seed) -> None:
    assert main(["purge", "--older-than-days", "30", "--yes", "--data-dir", str(seed.data_dir)]) == 0
    app = create_app(Settings(data_dir=seed.data_dir, secret_key="test"))
    auth.create_user(app.state.services.db, "tom", "trainer", "tom-correct-horse")
    with TestClient(app) as client:
        client.post("/api/login", json={"username": "tom", "password": "tom-correct-horse"})
        recording = client.get(f"/api/sessions/{seed.old}/recording").json()
        assert recording["status"] == "purged" and recording["media_url"] is None
        export = client.get(f"/api/sessions/{seed.old}/export.mp4")
        assert export.status_code == 404 and "retention policy" in export.json()["error"]["message"]
    app.state.services.db.close()
