"""Where a session's recording lives on disk: one folder per session under the recordings dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RecordingFiles:
    directory: Path

    @property
    def media(self) -> Path:
        """Matroska/WebM: customer video, customer audio, expert audio; muxed as received."""
        return self.directory / "recording.webm"

    @property
    def events(self) -> Path:
        """Append-only JSON lines (``server/recordings/eventlog.py``)."""
        return self.directory / "events.jsonl"

    @property
    def snapshots(self) -> Path:
        """``<id>.jpg`` full-resolution frames and ``<id>.json`` with the AR state of each."""
        return self.directory / "snapshots"

    @property
    def exports(self) -> Path:
        """MP4 exports made from the recording, kept until it changes."""
        return self.directory / "exports"


def recording_files(recordings_dir: Path, session_id: str) -> RecordingFiles:
    if not session_id or "/" in session_id or "\\" in session_id or session_id.startswith("."):
        raise ValueError(f"not a session id: {session_id!r}")
    return RecordingFiles(recordings_dir / session_id)
