"""A session's append-only event log: one JSON object per line, beside its recording.

Each line: ``{"at": ISO 8601 UTC, "t_ms": ms since the recording started or null, "type": ...,
...}``. Lines are flushed to the OS as they are written, so a killed server loses none; an
fsync follows at most once a second, off the event loop, for power loss. Readers must expect
a cut-off last line (see :func:`read_events`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)

FSYNC_INTERVAL_S = 1.0


def utc_timestamp(timespec: str = "milliseconds") -> str:
    """Now, as ISO 8601 UTC with a Z: how event logs and chat lines stamp the wall clock."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


class EventLog:
    def __init__(self, path: Path, clock_ms: Callable[[], int | None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock_ms = clock_ms
        self._file: TextIO | None = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the session
        self._fsync_pending = False

    def now_ms(self) -> int | None:
        """The log's clock: ms since the recording started (None without a recording)."""
        return self._clock_ms()

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {
            "at": utc_timestamp(),
            "t_ms": self.now_ms(),
            "type": kind,
            **fields,
        }
        if self._file is None:
            logger.warning("event after the log was closed: %s", event)
            return event
        self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
        self._file.flush()
        self._schedule_fsync()
        return event

    def _schedule_fsync(self) -> None:
        if self._fsync_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._fsync()
            return
        self._fsync_pending = True
        loop.call_later(FSYNC_INTERVAL_S, lambda: loop.run_in_executor(None, self._fsync))

    def _fsync(self) -> None:
        self._fsync_pending = False
        file = self._file
        if file is not None and not file.closed:
            try:
                os.fsync(file.fileno())
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def read_events(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """All complete events, and whether the last line was cut off (a crash mid-write)."""
    events: list[dict[str, Any]] = []
    truncated = False
    if not path.exists():
        return events, False
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if index >= len(lines) - 2:
                truncated = True
            else:
                logger.warning("%s: skipping a damaged line %d", path, index + 1)
    return events, truncated
