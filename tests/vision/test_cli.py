"""The author's command: per-frame JSON lines on a real video file, then a summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.clipgen import FakeCamera, Motion, write_clip
from tests.vision.conftest import (
    CORNER_MEDIAN_TOLERANCE_PX,
    CORNER_P95_TOLERANCE_PX,
    DATA,
    HANDS,
    corner_errors,
    image,
)
from tests.vision.test_hands import needs_model
from vision.cli import main

CLI_CLIP_FRAMES = 30


@pytest.fixture(scope="module")
def board_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clip") / "board.y4m"
    camera = FakeCamera(
        image("board.jpg"), image("leuvenA.jpg"), num_frames=CLI_CLIP_FRAMES, motion=Motion(seed=3)
    )
    truth = json.loads(write_clip(camera, out).read_text())
    return out, truth


def test_check_on_a_y4m_clip(
    board_clip: tuple[Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip, truth = board_clip
    out = tmp_path / "frames.jsonl"
    assert main(["check", str(DATA / "board.jpg"), str(clip), "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(CLI_CLIP_FRAMES))
    assert all(r["found"] for r in records)
    errors = np.concatenate(
        [
            corner_errors(np.array(r["corners_frame_px"]), np.array(t["corners"]))
            for r, t in zip(records, truth["frames"], strict=True)
        ]
    )
    assert (
        np.median(errors) <= CORNER_MEDIAN_TOLERANCE_PX
        and np.percentile(errors, 95) <= CORNER_P95_TOLERANCE_PX
    )
    first = records[0]
    assert set(first) >= {"frame", "timestamp_ms", "found", "homography", "corners_frame_px", "inliers", "ms"}
    assert np.array(first["homography"]).shape == (3, 3)
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == CLI_CLIP_FRAMES and summary["found"] == CLI_CLIP_FRAMES


def test_check_on_mp4_keeps_stdout_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "check",
        str(DATA / "board.jpg"),
        str(DATA / "cup_handled.mp4"),
        "--detect-every",
        "1",
        "--no-track",
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 217 and not any(r["found"] for r in records)
    assert records[1]["timestamp_ms"] > records[0]["timestamp_ms"]
    summary = json.loads(captured.err.strip().splitlines()[-1])
    assert summary["found"] == 0 and summary["frames"] == 217


def test_check_while_lost_searches_every_nth_frame_in_the_same_format(tmp_path: Path) -> None:
    out = tmp_path / "frames.jsonl"
    args = ["check", str(DATA / "board.jpg"), str(DATA / "cup_handled.mp4"), "--out", str(out)]
    assert main([*args, "--lost-detect-every", "3"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 217 and not any(r["found"] for r in records)
    keys = {"frame", "timestamp_ms", "found", "homography", "corners_frame_px", "inliers", "ms", "reason"}
    assert all(set(r) == keys for r in records)
    skipped = [r["frame"] for r in records if r["reason"].startswith("not searched")]
    assert skipped == [i for i in range(217) if i % 3]


def test_bad_input_gives_a_message_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "nope.jpg"), str(DATA / "cup_handled.mp4")]) == 2
    assert "cannot read reference image" in capsys.readouterr().err
    assert main(["check", str(DATA / "board.jpg"), str(DATA / "cup_handled.mp4"), "--detect-every", "0"]) == 2
    assert (
        main(["check", str(DATA / "board.jpg"), str(DATA / "cup_handled.mp4"), "--lost-detect-every", "0"])
        == 2
    )


@needs_model
def test_hands_on_a_photo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hands", str(HANDS / "two_hands_00c84257.jpg")]) == 0
    captured = capsys.readouterr()
    (record,) = [json.loads(line) for line in captured.out.splitlines()]
    assert record["frame"] == 0 and sorted(h["handedness"] for h in record["hands"]) == ["Left", "Right"]
    assert all(len(h["landmarks_frame_px"]) == 21 for h in record["hands"])


def test_mat_command_writes_a_pdf(tmp_path: Path) -> None:
    assert main(["mat", str(tmp_path / "mat.pdf")]) == 0
    assert (tmp_path / "mat.pdf").read_bytes().startswith(b"%PDF")


def test_runs_as_a_module(tmp_path: Path) -> None:
    out = tmp_path / "mat.png"
    subprocess.run([sys.executable, "-m", "vision.cli", "mat", str(out)], check=True, cwd=DATA.parent.parent)
    assert out.stat().st_size > 0
