"""Snapshots an expert saved during a session, in the recording's ``snapshots/`` folder: each the
full-resolution frame as JPEG (``<id>.jpg``), the same frame with the marks as the expert saw them
(``<id>-marked.jpg``; snapshots saved before these existed have only the clean one), and a JSON
with the AR state of its frame."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import RecordingFiles

SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MARKED_SUFFIX = "-marked"


@dataclass(frozen=True)
class Snapshot:
    id: str
    t_ms: int | None
    step_id: str | None
    device_found: bool
    outline_frame_px: list[list[float]] | None
    has_marked: bool


def list_snapshots(files: RecordingFiles) -> list[Snapshot]:
    """The session's snapshots in time order (those without a time last); one cut off by a crash is
    skipped, the others still list."""
    found = []
    if files.snapshots.is_dir():
        for meta_path in sorted(files.snapshots.glob("*.json")):
            try:
                meta = json.loads(meta_path.read_text())
                snapshot_id = str(meta["id"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            state = meta.get("ar_state") or {}
            found.append(
                Snapshot(
                    snapshot_id,
                    meta.get("t_ms"),
                    meta.get("step_id"),
                    bool(state.get("found")),
                    state.get("outline_frame_px"),
                    (files.snapshots / f"{snapshot_id}{MARKED_SUFFIX}.jpg").is_file(),
                )
            )
    return sorted(found, key=lambda s: (s.t_ms is None, s.t_ms or 0))


def snapshot_file(files: RecordingFiles, name: str) -> Path | None:
    """The file ``<id>.jpg``, ``<id>-marked.jpg`` or ``<id>.json`` of one snapshot; None for another name
    or a missing file."""
    stem, _, extension = name.rpartition(".")
    if extension == "jpg":
        stem = stem.removesuffix(MARKED_SUFFIX)
    if extension not in ("jpg", "json") or not SNAPSHOT_ID.match(stem):
        return None
    path = files.snapshots / name
    return path if path.is_file() else None


def write_snapshot(
    files: RecordingFiles, snapshot_id: str, clean_jpeg: bytes, marked_jpeg: bytes, meta: dict[str, Any]
) -> None:
    """Blocking. Raises ``OSError`` when the folder cannot be written. The JSON goes last: a snapshot
    lists once its pictures are there."""
    files.snapshots.mkdir(parents=True, exist_ok=True)
    (files.snapshots / f"{snapshot_id}.jpg").write_bytes(clean_jpeg)
    (files.snapshots / f"{snapshot_id}{MARKED_SUFFIX}.jpg").write_bytes(marked_jpeg)
    (files.snapshots / f"{snapshot_id}.json").write_text(json.dumps(meta))
