"""An export's child process that crashes there, as a segfault in a codec would, after writing part
of the file: what ``test_export_crash.py`` puts in place of the real export. A module of its own, so
the child imports only this to run it."""

from __future__ import annotations

import os
from pathlib import Path

from server.recordings.exports import ExportSource, ProcedureFolders

HALF_AN_MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000


def crash_midway(_source: ExportSource, _procedures: ProcedureFolders, out: Path, _burn_in: bool) -> None:
    out.write_bytes(HALF_AN_MP4)
    os.abort()
