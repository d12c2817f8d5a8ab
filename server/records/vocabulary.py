"""Every enumeration the records use, defined once; the database, the API's request models, error
messages and the CLI all read them from here."""

from __future__ import annotations

from typing import Literal, get_args

from signaling.messages import RecordingState

StaffRole = Literal["expert", "trainer", "admin"]
Outcome = Literal["fixed_remotely", "sent_to_repair", "no_fault_found", "unresolved"]
CaseStatus = Literal["open", "closed"]
SessionState = Literal["created", "live", "ended"]

STAFF_ROLES: tuple[StaffRole, ...] = get_args(StaffRole)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
SESSION_STATES: tuple[SessionState, ...] = get_args(SessionState)
RECORDING_STATUSES: tuple[RecordingState, ...] = get_args(RecordingState)
# Recordings a player can open.
PLAYABLE_RECORDINGS: tuple[RecordingState, ...] = ("complete", "partial")


def one_of(values: tuple[str, ...]) -> str:
    """``a, b or c``: how a message lists the allowed values."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
