"""A session's event log: the one module that knows its format, writes it and reads it.

``events.jsonl`` beside the recording is append-only, one JSON object per line:
``{"at": ISO 8601 UTC, "t_ms": ms on the recording's clock or null, "type": ..., fields}``.
``t_ms`` is null before the recording started (or when there is none: the customer declined).
An ``ar`` summary says where the device was in the recorded frame at ``frame_t_ms``.

| type | fields | written when |
| --- | --- | --- |
| ``join`` | ``role``, ``user`` (the expert's username), ``browser`` | a participant joined |
| ``client_problem`` | ``role``, ``problem``, ``browser`` | a page cannot take part (see ``LiveSession``) |
| ``seat_refused`` | ``role``, ``browser`` | the customer's link was opened in another browser: kept out |
| ``reconnecting`` | ``role`` | a socket dropped without closing |
| ``media_gap`` | ``role``, ``gap_ms``, ``from_ms``, ``to_ms`` | video came back after a gap (see below) |
| ``leave`` | ``role`` | a participant left for good |
| ``consent`` | ``given`` | the customer decided about the recording |
| ``recording_started`` | | the recorder started |
| ``recording_paused`` | | the customer withdrew consent: nothing is written from here |
| ``recording_resumed`` | | the customer consented again: the same file goes on |
| ``chat`` | ``id``, ``from_role``, ``text`` | a chat line was sent |
| ``procedure_chosen`` | ``procedure_id`` (null: none), ``by`` | a procedure was picked or cleared |
| ``step_changed`` | ``step_id``, ``index``, ``by`` | the current step changed |
| ``step_completed`` | ``step_id``, ``by``, ``t_frame_ms`` (vision) | a step was done |
| ``annotation_added`` | ``annotation`` (a ``SessionAnnotation``) | the expert drew a mark |
| ``annotation_removed`` | ``id`` | the expert removed a mark |
| ``ar`` | ``frame_t_ms``, ``step_id``, ``found``, ``frame_size``, ``homography`` | a few times a second |
| ``snapshot`` | ``id``, ``device_found``, ``step_id`` | the expert saved a snapshot |
| ``burn_in`` | ``enabled`` | burn-in was switched |
| ``ar_paused`` | ``reason`` | AR stopped on its own (its media worker died, or vision failed) |
| ``ar_resumed`` | | AR came back after a pause |
| ``session_ended`` | ``reason``, ``recovered`` (start-up recovery) | the session ended |

A ``media_gap`` says the recording has no video from ``from_ms`` to ``to_ms`` (its clock; both null
without a recording): the file goes on across it, one file per session.

Lines are flushed to the OS as they are written, so a killed server loses none; an fsync follows
at most once a second, off the event loop, for power loss. A crash can cut the last line off:
:func:`read_events` skips it and says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from ..blocking import run_blocking
from ..clock import parse_utc, utc_timestamp

logger = logging.getLogger(__name__)

FSYNC_INTERVAL_S = 1.0
Event = dict[str, Any]


class EventType(StrEnum):
    JOIN = "join"
    CLIENT_PROBLEM = "client_problem"
    SEAT_REFUSED = "seat_refused"
    RECONNECTING = "reconnecting"
    MEDIA_GAP = "media_gap"
    LEAVE = "leave"
    CONSENT = "consent"
    RECORDING_STARTED = "recording_started"
    RECORDING_PAUSED = "recording_paused"
    RECORDING_RESUMED = "recording_resumed"
    CHAT = "chat"
    PROCEDURE_CHOSEN = "procedure_chosen"
    STEP_CHANGED = "step_changed"
    STEP_COMPLETED = "step_completed"
    ANNOTATION_ADDED = "annotation_added"
    ANNOTATION_REMOVED = "annotation_removed"
    AR = "ar"
    SNAPSHOT = "snapshot"
    BURN_IN = "burn_in"
    AR_PAUSED = "ar_paused"
    AR_RESUMED = "ar_resumed"
    SESSION_ENDED = "session_ended"


def _line(kind: EventType, t_ms: int | None, fields: dict[str, Any]) -> str:
    event = {"at": utc_timestamp(), "t_ms": t_ms, "type": str(kind), **fields}
    return json.dumps(event, separators=(",", ":")) + "\n"


class EventLog:
    """The open log of a live session; ``clock_ms`` is the recording's clock (None: not recording)."""

    def __init__(self, path: Path, clock_ms: Callable[[], int | None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock_ms = clock_ms
        self._file: TextIO | None = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the session
        self._fsync_pending = False

    def now_ms(self) -> int | None:
        """The log's clock: ms since the recording started (None without a recording)."""
        return self._clock_ms()

    # --- one writer per event type ---------------------------------------------------------------

    def join(self, role: str, user: str | None, browser: str | None = None) -> None:
        self._append(EventType.JOIN, role=role, user=user, browser=browser)

    def client_problem(self, role: str, problem: str, browser: str | None) -> None:
        self._append(EventType.CLIENT_PROBLEM, role=role, problem=problem, browser=browser)

    def seat_refused(self, role: str, browser: str | None) -> None:
        self._append(EventType.SEAT_REFUSED, role=role, browser=browser)

    def reconnecting(self, role: str) -> None:
        self._append(EventType.RECONNECTING, role=role)

    def media_gap(self, role: str, gap_ms: int, from_ms: int | None, to_ms: int | None) -> None:
        self._append(EventType.MEDIA_GAP, role=role, gap_ms=gap_ms, from_ms=from_ms, to_ms=to_ms)

    def leave(self, role: str) -> None:
        self._append(EventType.LEAVE, role=role)

    def consent(self, given: bool) -> None:
        self._append(EventType.CONSENT, given=given)

    def recording_started(self) -> None:
        self._append(EventType.RECORDING_STARTED)

    def recording_paused(self) -> None:
        self._append(EventType.RECORDING_PAUSED)

    def recording_resumed(self) -> None:
        self._append(EventType.RECORDING_RESUMED)

    def chat(self, chat_id: str, from_role: str, text: str) -> None:
        self._append(EventType.CHAT, id=chat_id, from_role=from_role, text=text)

    def procedure_chosen(self, procedure_id: str | None, by: str) -> None:
        self._append(EventType.PROCEDURE_CHOSEN, procedure_id=procedure_id, by=by)

    def step_changed(self, step_id: str, index: int, by: str) -> None:
        self._append(EventType.STEP_CHANGED, step_id=step_id, index=index, by=by)

    def step_completed(self, step_id: str, by: str, t_frame_ms: int | None = None) -> None:
        fields: dict[str, Any] = {"step_id": step_id, "by": by}
        if t_frame_ms is not None:
            fields["t_frame_ms"] = t_frame_ms
        self._append(EventType.STEP_COMPLETED, **fields)

    def annotation_added(self, annotation: dict[str, Any]) -> None:
        self._append(EventType.ANNOTATION_ADDED, annotation=annotation)

    def annotation_removed(self, mark_id: str) -> None:
        self._append(EventType.ANNOTATION_REMOVED, id=mark_id)

    def ar(
        self,
        frame_t_ms: int,
        step_id: str | None,
        found: bool,
        frame_size: tuple[int, int],
        homography: list[list[float]] | None,
    ) -> None:
        self._append(
            EventType.AR,
            frame_t_ms=frame_t_ms,
            step_id=step_id,
            found=found,
            frame_size=list(frame_size),
            homography=homography,
        )

    def snapshot(self, snapshot_id: str, device_found: bool, step_id: str | None) -> None:
        self._append(EventType.SNAPSHOT, id=snapshot_id, device_found=device_found, step_id=step_id)

    def burn_in(self, enabled: bool) -> None:
        self._append(EventType.BURN_IN, enabled=enabled)

    def ar_paused(self, reason: str) -> None:
        self._append(EventType.AR_PAUSED, reason=reason)

    def ar_resumed(self) -> None:
        self._append(EventType.AR_RESUMED)

    def session_ended(self, reason: str) -> None:
        self._append(EventType.SESSION_ENDED, reason=reason)

    # --- writing -------------------------------------------------------------------------------

    def _append(self, kind: EventType, **fields: Any) -> None:
        line = _line(kind, self.now_ms(), fields)
        if self._file is None:
            logger.warning("event after the log %s was closed: %s", self.path, line.strip())
            return
        self._file.write(line)
        self._file.flush()
        self._schedule_fsync()

    def _schedule_fsync(self) -> None:
        if self._fsync_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._fsync()
            return
        self._fsync_pending = True
        loop.call_later(FSYNC_INTERVAL_S, lambda: asyncio.ensure_future(run_blocking(self._fsync)))

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


def append_after_crash(path: Path, kind: EventType, **fields: Any) -> None:
    """Append one event to the log of a session whose process died (start-up recovery): the crash may
    have cut the last line off, so the new one starts on a line of its own. No log, no line."""
    if not path.exists():
        return
    with open(path, "ab") as log:
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            log.write(b"\n")
        log.write(_line(kind, None, fields).encode("utf-8"))
        log.flush()
        os.fsync(log.fileno())


# --- reading -----------------------------------------------------------------------------------


class LoggedEvents(NamedTuple):
    """A log as read: every complete event, and whether the last line was cut off (a crash mid-write)."""

    events: list[Event]
    cut_off: bool


def read_events(path: Path, types: Iterable[EventType] | None = None) -> LoggedEvents:
    """The events of a log; with ``types``, only those (lines of other types are skipped before they
    are parsed: most lines are ``ar`` summaries, and a dashboard over hundreds of hour-long sessions
    must not parse them all)."""
    if not path.exists():
        return LoggedEvents([], False)
    kinds = None if types is None else {str(kind) for kind in types}
    needles = None if kinds is None else [f'"{kind}"' for kind in kinds]
    events: list[Event] = []
    cut_off = False
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if needles is not None and not any(needle in line for needle in needles):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            if index >= len(lines) - 2:
                cut_off = True
            else:
                logger.warning("%s: skipping a damaged line %d", path, index + 1)
            continue
        if isinstance(event, dict) and (kinds is None or event.get("type") in kinds):
            events.append(event)
    return LoggedEvents(events, cut_off)


def event_type(event: Event) -> str | None:
    kind = event.get("type")
    return kind if isinstance(kind, str) else None


def event_ms(event: Event, key: str = "t_ms") -> int:
    """An event's place on the recording's clock (``key``: ``t_ms``, or ``frame_t_ms`` of an ``ar``
    summary). Before the recording started (null) counts as 0: what was set then is in force when
    the recording starts."""
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value <= 0:
        return 0
    return int(value) if value < 2**62 else 0


def event_at(event: Event) -> datetime | None:
    """An event's wall-clock moment (naive UTC), None when missing or unreadable."""
    return parse_utc(event.get("at"))
