"""What the self-help JSON routes answer (``selfhelp_api.py``, ``queue_api.py``), as pydantic models,
declared with ``operations.responds`` like every other answer (``response_models.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..records.vocabulary import EscalationReason, RunState
from .response_models import Page, Timestamp


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelfHelpLinkAnswer(_Answer):
    """A self-help link as lists show it: never its token (only its SHA-256 is kept)."""

    id: str
    procedure_id: str
    label: str
    created_at: Timestamp
    revoked_at: Timestamp | None
    revoked: bool


class SelfHelpLinkMade(SelfHelpLinkAnswer):
    """A new link: its URL, QR code and token, shown this once."""

    url: str = Field(description="https://host/help/<token>: what the customer opens")
    qr_svg_url: str = Field(description="the QR code of url, as SVG, for printing")
    token: str = Field(description="the link's secret; the server keeps only its SHA-256")


class SelfHelpLinkPage(Page):
    links: list[SelfHelpLinkAnswer]


class QueueProcedure(_Answer):
    id: str | None
    title: str | None


class QueueStep(_Answer):
    id: str
    index: int | None = Field(description="0-based place in the procedure; null if it is not loaded")
    count: int | None = Field(description="how many steps the procedure has")
    title: str


class QueueItem(_Answer):
    run_id: str
    session_id: str
    case_id: str
    position: int = Field(ge=1, description="1: the next to be picked up")
    escalated_at: Timestamp | None
    wait_s: int = Field(ge=0)
    device_model: str
    procedure: QueueProcedure
    step: QueueStep | None = Field(description="the step reached when they asked for an expert")
    reason: EscalationReason | None


class QueuePage(Page):
    queue: list[QueueItem]


class PickUpAnswer(_Answer):
    run_id: str
    session_id: str
    case_id: str
    state: RunState
    picked_up_at: Timestamp | None
    console_url: str = Field(description="the console on the customer's live session")
