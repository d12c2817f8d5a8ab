"""Every enumeration the records use, defined once; the database, the API's request models, error
messages and the CLI all read them from here."""

from __future__ import annotations

from typing import Literal, get_args

from signaling.messages import RecordingState

StaffRole = Literal["expert", "trainer", "admin"]
Outcome = Literal["fixed_remotely", "fixed_by_self_help", "sent_to_repair", "no_fault_found", "unresolved"]
CaseStatus = Literal["open", "closed"]
SessionState = Literal["created", "live", "ended"]
# A self-help run (``selfhelp.py``): the customer alone, then fixed, or waiting for an expert
# (escalated) until one picks them up.
RunState = Literal["running", "escalated", "picked_up", "fixed"]
# Why a self-help customer asked for an expert: "Talk to an expert" at a step, or "No" at the end.
EscalationReason = Literal["asked", "not_fixed"]
# Who made a case: staff in the console, a self-help run, an integration through the API (with an
# API token), or an expert's "Try with a sample" (a demo customer: left out of the analytics).
CaseSource = Literal["console", "self_help", "api", "demo"]
# The link an integration asks for with a new case (``POST /api/cases``): a self-help run of the
# case's procedure, or a customer link to a session with an expert.
CaseLinkKind = Literal["self_help", "expert"]

STAFF_ROLES: tuple[StaffRole, ...] = get_args(StaffRole)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
SESSION_STATES: tuple[SessionState, ...] = get_args(SessionState)
CASE_SOURCES: tuple[CaseSource, ...] = get_args(CaseSource)
# Outcomes that name the step that fixed it (a case's ``fixed_by_step``).
FIXED_BY_STEP_OUTCOMES: tuple[Outcome, ...] = ("fixed_remotely", "fixed_by_self_help")
RECORDING_STATUSES: tuple[RecordingState, ...] = get_args(RecordingState)
# Recordings a player can open.
PLAYABLE_RECORDINGS: tuple[RecordingState, ...] = ("complete", "partial")


def one_of(values: tuple[str, ...]) -> str:
    """``a, b or c``: how a message lists the allowed values."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
