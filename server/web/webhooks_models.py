"""What the webhook routes take and answer (``webhooks_api.py``), as pydantic models, declared
with ``operations.responds`` like every other answer (``response_models.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..integrations.webhook_outbox import DeliveryState
from ..records.webhook_events import EventType
from .response_models import Page, Timestamp


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookCreate(_Body):
    url: str = Field(min_length=1, max_length=2000, description="absolute http:// or https:// URL")
    event_types: list[EventType] = Field(
        default_factory=list, max_length=20, description="the events it wants; empty: every event"
    )
    description: str = Field(default="", max_length=200)
    enabled: bool = True


class WebhookPatch(_Body):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[EventType] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    rotate_secret: bool = Field(default=False, description="make a new secret, answered this once")


class WebhookAnswer(_Answer):
    """An endpoint as lists show it: never its secret (shown once, when made or rotated)."""

    id: str
    url: str
    event_types: list[EventType] = Field(description="empty: every event")
    description: str
    enabled: bool
    created_at: Timestamp


class WebhookMade(WebhookAnswer):
    secret: str = Field(description="whsec_...: the signing secret, shown this once; keep it in the receiver")


class WebhookChanged(WebhookAnswer):
    secret: str | None = Field(description="the new secret with rotate_secret, shown this once; else null")


class WebhookPage(Page):
    webhooks: list[WebhookAnswer]


class AttemptAnswer(_Answer):
    attempted_at: Timestamp
    status_code: int | None = Field(description="the receiver's HTTP status; null when none came")
    error: str | None = Field(description="why it did not count as delivered; null when it did")
    duration_ms: int


class DeliveryAnswer(_Answer):
    id: str = Field(description="the webhook-id header: the same on every attempt and redelivery")
    event_type: EventType
    state: DeliveryState
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="when it is tried next; null unless pending")
    delivered_at: Timestamp | None
    payload: dict[str, object] = Field(description="the body sent: {type, timestamp, data}")
    attempts: list[AttemptAnswer] = Field(description="every attempt, oldest first")


class DeliveryPage(Page):
    deliveries: list[DeliveryAnswer]
