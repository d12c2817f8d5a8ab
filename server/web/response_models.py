"""What the JSON routes answer, as pydantic models: the one definition of each answer's shape.

A route declares its model (``operations.responds``), which checks and serialises what the route
returns and is what ``/api/openapi.json`` describes, so the document cannot drift from the
answers. ``extra="forbid"``: a field a presenter adds without adding it here fails the tests
(the schemathesis run among them) rather than going out undocumented.

Parts whose shape another package owns (a procedure as ``procedures`` writes it, the analytics
figures, the player's timeline items) are plain JSON objects here; their reference is named in
each field's description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from signaling.messages import PresenceStatus, RecordingState, Role

from ..records.vocabulary import CaseLinkKind, CaseSource, CaseStatus, Outcome, SessionState, StaffRole

Timestamp = Annotated[str, Field(description="UTC, ISO 8601 (2026-11-22T11:00:00Z)")]
JsonObject = dict[str, Any]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Answer):
    code: str = Field(description="stable, for programs: invalid, not_found, unauthorized, ...")
    message: str = Field(description="what was wrong and what to do, for people")


class ErrorAnswer(_Answer):
    """Every 4xx and 5xx of the API."""

    error: ErrorDetail


class Page(_Answer):
    """The paging fields of every list (``server/web/pagination.py``)."""

    next_cursor: str | None = Field(description="send as ?cursor= for the next page; null on the last")
    total: int = Field(ge=0, description="how many items there are in all")


class Health(_Answer):
    status: Literal["ok"]


class ReadyCheck(_Answer):
    ok: bool
    message: str | None = None
    free_bytes: int | None = None


class Readiness(_Answer):
    status: Literal["ready", "not_ready"]
    pid: int
    checks: dict[str, ReadyCheck] = Field(description="database, recordings, registry, draining")


class Me(_Answer):
    username: str
    role: StaffRole


class UserAnswer(_Answer):
    """A staff account; never its password hash."""

    id: str
    username: str
    role: StaffRole
    created_at: Timestamp
    disabled: bool
    disabled_at: Timestamp | None
    must_change_password: bool


class UserPage(Page):
    users: list[UserAnswer]


class PasswordReset(_Answer):
    user: UserAnswer
    password: str = Field(description="the new one-time password, shown this once")


class SignInAnswer(_Answer):
    id: str
    username: str
    created_at: Timestamp
    last_seen_at: Timestamp
    address: str | None
    user_agent: str | None


class SignInPage(Page):
    sign_ins: list[SignInAnswer]


class RecordingAnswer(_Answer):
    status: RecordingState
    duration_s: float | None
    media_url: str | None
    events_url: str | None


class SessionAnswer(_Answer):
    id: str
    case_id: str
    state: SessionState
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    expires_at: Timestamp | None
    end_reason: str | None
    customer_url: str | None = Field(
        description="the customer's link: only in the answer that made the session (only its hash is kept)"
    )
    link_warning: str | None = Field(description="why a phone cannot use the link, and what to do")
    console_url: str
    qr_url: str | None = Field(description="the customer link as a QR code (a data: URL), with customer_url")
    consent: bool | None
    participants: dict[Role, PresenceStatus]
    recording: RecordingAnswer


class CaseAnswer(_Answer):
    id: str
    title: str
    customer_name: str
    customer_contact: str
    device_model: str
    notes: str
    status: CaseStatus
    outcome: Outcome | None
    procedure_id: str | None
    fixed_by_step: str | None
    source: CaseSource = Field(
        description="who made it: console (staff), self_help (a run), api (a token), demo (a sample clip)"
    )
    external_reference: str | None = Field(description="the integration's own id for it, as sent")
    created_at: Timestamp
    updated_at: Timestamp


class CaseWithSessions(CaseAnswer):
    sessions: list[SessionAnswer]


class CaseLink(_Answer):
    """The link to send the customer, asked for with ``link`` in ``POST /api/cases``."""

    kind: CaseLinkKind
    url: str | None = Field(
        description="the link; only in the answer that made the case (its hash is kept), null in a replay"
    )
    qr_svg_url: str | None = Field(description="a self-help link's QR code to print; null for expert links")
    session_id: str | None = Field(description="the session an expert link opens")
    self_help_link_id: str | None = Field(description="the self-help link, to revoke it")


class CaseCreated(CaseWithSessions):
    link: CaseLink | None = Field(default=None, description="with link in the request")


class CaseListed(CaseAnswer):
    session_count: int = Field(ge=0)


class CasePage(Page):
    cases: list[CaseListed]


class SnapshotAnswer(_Answer):
    id: str
    url: str = Field(description="the picture as the expert saw it (with the marks when saved with them)")
    clean_url: str = Field(description="the frame alone")
    t_ms: int | None
    step_id: str | None
    device_found: bool
    outline_frame_px: list[list[float]] | None


class SnapshotPage(Page):
    snapshots: list[SnapshotAnswer]


class ProcedureError(_Answer):
    path: str
    message: str


class ProcedurePage(Page):
    procedures: list[JsonObject] = Field(description="summaries, as docs/procedures.md describes")
    errors: list[ProcedureError] = Field(description="procedure folders that could not be loaded")


Procedure = Annotated[JsonObject, Field(description="a procedure, as docs/procedures.md describes")]


class Analytics(_Answer):
    """docs/analytics.md."""

    from_: str = Field(alias="from", description="YYYY-MM-DD")
    to: str = Field(description="YYYY-MM-DD")
    procedures: list[JsonObject]

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class LibraryPage(Page):
    results: list[JsonObject] = Field(description="recordings matching the search (docs/playback.md)")
    count: int = Field(ge=0, description="how many are on this page")


class Playback(_Answer):
    """Everything the player needs (docs/playback.md)."""

    session: SessionAnswer
    case: CaseAnswer
    recording: RecordingAnswer
    procedure: JsonObject | None
    procedures: dict[str, JsonObject]
    chapters: list[JsonObject]
    chat: list[JsonObject]
    marks: list[JsonObject]
    ar: list[JsonObject]
    consent: list[JsonObject]
    problems: list[JsonObject]
    snapshots: list[SnapshotAnswer]
    warnings: list[str]
    events_cut_off: bool
