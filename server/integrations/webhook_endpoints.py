"""Webhook endpoints an admin configures: a URL, the event types it wants, on or off, and the
signing secret the server makes (shown once, when the endpoint is made or its secret rotated).

Blocking database work: call it through ``run_blocking`` from async code.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, func, select

from ..errors import Invalid, NotFound
from ..records.database import Database
from ..records.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..records.webhook_events import EVENT_TYPES
from .webhook_signing import new_secret

MAX_URL_CHARS = 2000


def endpoint_not_found(endpoint_id: str) -> NotFound:
    return NotFound(f"no webhook with id {endpoint_id!r}; list them with GET /api/webhooks")


def checked_url(url: str) -> str:
    """An absolute http(s) URL with a host, or :class:`Invalid` saying what is wrong."""
    refused = Invalid(f"url: {url!r} is not an absolute http:// or https:// URL with a host")
    try:
        parts = urlsplit(url)
        httpx.URL(url)  # what the delivery worker will parse it with
    except (ValueError, httpx.InvalidURL):
        raise refused from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused
    if parts.username or parts.password:
        raise Invalid("url: put no user or password in the URL; the receiver checks the signature instead")
    return url


def checked_event_types(event_types: Iterable[str]) -> str:
    """The filter as stored (space-separated, in the order of :data:`EVENT_TYPES`); empty: all."""
    chosen = set(event_types)
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise Invalid(
            f"event_types: {', '.join(unknown)} unknown; the event types are {', '.join(EVENT_TYPES)}"
        )
    return " ".join(t for t in EVENT_TYPES if t in chosen)


def create_endpoint(
    db: Database, url: str, event_types: Iterable[str], description: str, enabled: bool, user_id: str | None
) -> WebhookEndpoint:
    with db.session() as s:
        row = WebhookEndpoint(
            url=checked_url(url),
            secret=new_secret(),
            event_types=checked_event_types(event_types),
            description=description,
            enabled=enabled,
            created_by=user_id,
        )
        s.add(row)
        s.flush()
        return row


def list_endpoints(db: Database, offset: int, limit: int) -> tuple[list[WebhookEndpoint], int]:
    """Endpoints oldest first, from ``offset``, and how many there are in all."""
    with db.session() as s:
        total = int(s.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0)
        rows = s.scalars(
            select(WebhookEndpoint)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), total


def load_endpoint(db: Database, endpoint_id: str) -> WebhookEndpoint:
    with db.session() as s:
        row = s.get(WebhookEndpoint, endpoint_id)
        if row is None:
            raise endpoint_not_found(endpoint_id)
        return row


def update_endpoint(
    db: Database,
    endpoint_id: str,
    *,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    rotate_secret: bool = False,
) -> WebhookEndpoint:
    """Change what is given. A new secret signs every delivery from now on, retries included."""
    with db.session() as s:
        row = s.get(WebhookEndpoint, endpoint_id)
        if row is None:
            raise endpoint_not_found(endpoint_id)
        if url is not None:
            row.url = checked_url(url)
        if event_types is not None:
            row.event_types = checked_event_types(event_types)
        if description is not None:
            row.description = description
        if enabled is not None:
            row.enabled = enabled
        if rotate_secret:
            row.secret = new_secret()
        return row


def delete_endpoint(db: Database, endpoint_id: str) -> None:
    """The endpoint, its deliveries not yet sent and its delivery log."""
    with db.session() as s:
        if s.get(WebhookEndpoint, endpoint_id) is None:
            raise endpoint_not_found(endpoint_id)
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
        s.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        s.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
