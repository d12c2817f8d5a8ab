"""Session rows: made, read, and every change of their state and recording status, in one place.

A session row goes ``created -> live -> ended`` (or straight ``created -> ended`` when nobody
joined). Its ``recording_status`` goes ``none -> recording`` when the customer consents (or
``none -> declined``), and at the end ``recording -> complete`` (or ``partial`` when the server
stopped mid-session, or ``none`` when no video ever arrived); a purge makes any of them ``purged``
(``server/recordings/retention.py``). Live sessions, the REST API, start-up recovery and the
retention policy all change rows through these functions, so the rules cannot drift apart.

Blocking database work: call it through ``run_blocking`` from async code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from signaling.messages import RecordingState

from ..clock import utcnow
from ..errors import Conflict, NotFound
from . import webhook_events
from .cases import case_not_found
from .database import Database
from .links import new_link_token
from .models import Case, RepairSession


@dataclass(frozen=True)
class RecordingSummary:
    """What a finished (or cut-off) recording file holds: whether it has media, and its duration."""

    media_exists: bool
    duration_s: float | None


def session_not_found(session_id: str) -> NotFound:
    return NotFound(f"no session with id {session_id!r}; check the link")


def recording_status_for_consent(given: bool) -> RecordingState:
    return "recording" if given else "declined"


def recording_status_at_end(
    current: str, recording: RecordingSummary | None, cut_off: bool
) -> tuple[str, float | None]:
    """The recording's status and duration once its session ended. With a file that holds media it is
    ``complete`` (``partial`` if ``cut_off``), whatever the consent was at the end: a customer who
    withdrew consent midway leaves what was recorded before. Without one, a ``recording`` status
    becomes ``none`` (no video ever arrived) and any other stays as it is (``declined``)."""
    if recording is not None and recording.media_exists:
        return ("partial" if cut_off else "complete"), recording.duration_s
    return ("none" if current == "recording" else current), None


# --- making and reading ----------------------------------------------------------------------------


def insert_session(
    db: Database, case_id: str, user_id: str | None, link_ttl_s: int
) -> tuple[RepairSession, str]:
    """The new row and its customer link token: the only time the token is known in clear
    (``links.py``)."""
    token, token_sha256 = new_link_token()
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise case_not_found(case_id)
        if case.status == "closed":
            raise Conflict("this case is closed; reopen it (status open) before starting a new session")
        row = RepairSession(
            case_id=case_id,
            created_by=user_id,
            join_token_sha256=token_sha256,
            token_expires_at=utcnow() + timedelta(seconds=link_ttl_s),
        )
        s.add(row)
        s.flush()
        return row, token


def load_session(db: Database, session_id: str) -> RepairSession:
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise session_not_found(session_id)
        return row


def find_session(db: Database, session_id: str) -> RepairSession | None:
    with db.session() as s:
        return s.get(RepairSession, session_id)


def load_session_and_case(db: Database, session_id: str) -> tuple[RepairSession, Case]:
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise session_not_found(session_id)
        return row, row.case


def is_demo_session(db: Database, session_id: str) -> bool:
    """Whether the session is a demo's (its customer the server's sample clip, server/live/demo/)."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        return row is not None and row.case.source == "demo"


def check_not_ended(db: Database, session_id: str) -> None:
    if load_session(db, session_id).state == "ended":
        raise Conflict("this session has already ended; start a new one on the case")


def live_session_ids(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(RepairSession.id).where(RepairSession.state == "live")))


# --- transitions ----------------------------------------------------------------------------------


def mark_live(db: Database, session_id: str, consent: bool | None = None) -> None:
    """Someone joined: ``created -> live`` (the start time is the first join). With ``consent`` (the
    customer's decision at this join), the consent and the recording status it implies are stored
    too; the log keeps every decision (``consent`` events)."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            raise session_not_found(session_id)
        if row.state == "created":
            row.state = "live"
            row.started_at = utcnow()
        if consent is not None:
            row.consent = consent
            row.consent_at = utcnow()
            row.recording_status = recording_status_for_consent(consent)
        webhook_events.session_started_if_now(s, row)


def mark_ended(
    db: Database,
    session_id: str,
    reason: str,
    recording: RecordingSummary | None = None,
    *,
    cut_off: bool = False,
) -> bool:
    """End the row (``created`` or ``live`` -> ``ended``) and settle its recording's status; returns
    False when it had already ended. ``recording``: what the recorder left, when there was one;
    ``cut_off``: the server stopped mid-session (start-up recovery)."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None or row.state == "ended":
            return False
        row.state = "ended"
        row.ended_at = utcnow()
        row.end_reason = reason
        status, duration = recording_status_at_end(row.recording_status, recording, cut_off)
        if status != row.recording_status:
            row.recording_status = status
            row.recording_duration_s = duration
        webhook_events.session_ended(s, row)
        return True


def mark_recording_purged(db: Database, session_id: str, case_note: str) -> bool:
    """The retention policy deleted the recording: ``any -> purged``, and a line on the case's notes
    says what went, so the case still tells its story. False for an unknown session."""
    with db.session() as s:
        row = s.get(RepairSession, session_id)
        if row is None:
            return False
        row.recording_status = "purged"
        case = row.case
        case.notes = f"{case.notes.rstrip()}\n{case_note}" if case.notes.strip() else case_note
        return True
