"""The events RepairSight sends to webhooks, what each one's ``data`` holds, and how one is put in
the outbox.

An event is written in the same database transaction as the change it reports (the case row made,
the session row gone live, ...): one delivery row per enabled endpoint that wants its type. So a
crash between the change and the sending loses no event, and a change that is rolled back sends
none (the "transactional outbox"). The delivery worker (``integrations/webhook_delivery.py``) sends
them later, off the request path. Each emitting place calls one function here, so the shape of every
event's data has one owner; ``docs/integrations.md`` documents them.

The body is ``{"type", "timestamp", "data"}``, as the Standard Webhooks specification recommends
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, object_session

from ..clock import iso, utc_timestamp
from .models import Case, RepairSession, SelfHelpRun, WebhookDelivery, WebhookEndpoint
from .tokens import new_id

EventType = Literal[
    "case.created",
    "session.started",
    "session.ended",
    "recording.ready",
    "case.escalated",
    "case.closed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
# ``webhook-id``s start with this, as the specification's examples do.
MESSAGE_ID_PREFIX = "msg_"
PLAYABLE = ("complete", "partial")


def wants(event_types: str, event_type: str) -> bool:
    """Whether an endpoint's filter (space-separated types; empty: every type) takes ``event_type``."""
    chosen = event_types.split()
    return not chosen or event_type in chosen


def body_of(event_type: EventType, data: dict[str, Any], timestamp: str) -> str:
    return json.dumps({"type": event_type, "timestamp": timestamp, "data": data}, separators=(",", ":"))


def enqueue(s: Session, event_type: EventType, data: dict[str, Any]) -> int:
    """One delivery of this event per enabled endpoint that wants it, in ``s``'s transaction;
    returns how many."""
    endpoints = s.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))).all()
    wanting = [endpoint for endpoint in endpoints if wants(endpoint.event_types, event_type)]
    if not wanting:
        return 0
    body = body_of(event_type, data, utc_timestamp())
    for endpoint in wanting:
        s.add(
            WebhookDelivery(
                id=MESSAGE_ID_PREFIX + new_id(),
                endpoint_id=endpoint.id,
                event_type=event_type,
                body=body,
            )
        )
    return len(wanting)


# --- each event's data ------------------------------------------------------------------------------


def case_data(case: Case) -> dict[str, Any]:
    """A case as events show it: no customer name or contact (a receiver that needs them asks
    ``GET /api/cases/{id}`` with a token)."""
    return {
        "case_id": case.id,
        "title": case.title,
        "device_model": case.device_model,
        "procedure_id": case.procedure_id,
        "source": case.source,
        "external_reference": case.external_reference,
        "status": case.status,
        "outcome": case.outcome,
        "fixed_by_step": case.fixed_by_step,
        "created_at": iso(case.created_at),
    }


def session_data(session: RepairSession) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "case_id": session.case_id,
        "state": session.state,
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "end_reason": session.end_reason,
        "recording_status": session.recording_status,
        "recording_duration_s": session.recording_duration_s,
    }


def case_created(s: Session, case: Case) -> None:
    """After the new case row is flushed (its id and defaults set)."""
    enqueue(s, "case.created", case_data(case))


def session_started_if_now(s: Session, session: RepairSession) -> None:
    """``session.started`` when this unit of work made the session live (its first join); called
    after the change, before the flush."""
    if _changed_to(session, "state", "live"):
        enqueue(s, "session.started", session_data(session))


def session_ended(s: Session, session: RepairSession) -> None:
    """``session.ended``, and ``recording.ready`` when the ended session left a playable recording
    (the recorder has closed the file before the row ends: ``live/session.py``)."""
    enqueue(s, "session.ended", session_data(session))
    if session.recording_status in PLAYABLE:
        enqueue(s, "recording.ready", session_data(session))


def case_escalated(s: Session, run: SelfHelpRun) -> None:
    enqueue(
        s,
        "case.escalated",
        {
            "case_id": run.case_id,
            "session_id": run.session_id,
            "run_id": run.id,
            "reason": run.escalation_reason,
            "step_reached": run.step_reached,
            "escalated_at": iso(run.escalated_at),
        },
    )


def case_closed_if_now(case: Case) -> None:
    """``case.closed`` when this unit of work changed the case's status to closed (not when it was
    closed already), in the case's own unit of work; called after the change, before the flush."""
    s = object_session(case)
    if s is not None and _changed_to(case, "status", "closed"):
        enqueue(s, "case.closed", case_data(case))


def _changed_to(row: object, attribute: str, value: str) -> bool:
    """Whether this unit of work set ``row.attribute`` to ``value`` from something else (not yet
    flushed: the history is reset by a flush)."""
    history = inspect(row).attrs[attribute].history
    return value in (history.added or ()) and value not in (history.deleted or ())
