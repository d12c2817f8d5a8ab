"""Snapshots an expert saved during a session: each a full-resolution JPEG and a JSON beside it with
the AR state of its frame, in the recording's ``snapshots/`` folder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .files import RecordingFiles

SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
JPEG_QUALITY = 92


@dataclass(frozen=True)
class Snapshot:
    id: str
    t_ms: int | None
    step_id: str | None
    device_found: bool
    outline_frame_px: list[list[float]] | None


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
                )
            )
    return sorted(found, key=lambda s: (s.t_ms is None, s.t_ms or 0))


def snapshot_file(files: RecordingFiles, name: str) -> Path | None:
    """The file ``<id>.jpg`` or ``<id>.json`` of one snapshot; None for another name or a missing file."""
    stem, _, extension = name.rpartition(".")
    if extension not in ("jpg", "json") or not SNAPSHOT_ID.match(stem):
        return None
    path = files.snapshots / name
    return path if path.is_file() else None


def write_snapshot(
    files: RecordingFiles, snapshot_id: str, image_bgr: np.ndarray, meta: dict[str, Any]
) -> None:
    """Blocking. Raises ``OSError`` when the folder cannot be written, ``ValueError`` when the picture
    cannot be encoded."""
    files.snapshots.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    (files.snapshots / f"{snapshot_id}.jpg").write_bytes(jpeg.tobytes())
    (files.snapshots / f"{snapshot_id}.json").write_text(json.dumps(meta))
