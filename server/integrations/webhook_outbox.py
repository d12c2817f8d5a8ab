"""The outbox of webhook deliveries: which are due, claiming one, recording an attempt, and the
delivery log an admin reads.

A delivery goes ``pending -> delivered``, or ``pending -> failed`` once every retry of
:data:`RETRY_DELAYS_S` is spent; an admin's redelivery puts it back to ``pending``. With several
server processes (``server/cluster/``) each runs a worker, and a delivery is sent by one of them:
:func:`claim` is one conditional ``UPDATE ... WHERE claimed_by IS NULL``, which exactly one process
wins on SQLite (one writer at a time) and on PostgreSQL (the second update waits for the first and
then finds the row claimed). A claim older than :data:`CLAIM_LEASE_S` (its process died mid-send)
may be taken over.

Blocking database work: call it through ``run_blocking`` from async code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select, update

from ..clock import utcnow
from ..errors import NotFound
from ..records.database import Database
from ..records.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

DeliveryState = Literal["pending", "delivered", "failed"]
# Waits before the 2nd, 3rd, ... attempt (Standard Webhooks' suggested schedule, shortened): six
# attempts over about 1 h 13 min, then the delivery is failed and waits for an admin.
RETRY_DELAYS_S: tuple[float, ...] = (5, 30, 120, 600, 3600)
# Each wait is stretched or shrunk by up to this share, so endpoints that come back are not hit by
# every retry at the same moment.
JITTER = 0.2
# Longer than any attempt can take (the request timeout is much shorter).
CLAIM_LEASE_S = 300.0


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery, with what sending it needs."""

    delivery_id: str
    url: str
    secret: str
    body: str


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def retry_delay_s(
    attempts_made: int, delays: tuple[float, ...] = RETRY_DELAYS_S, rng: random.Random | None = None
) -> float | None:
    """The wait before the next attempt after ``attempts_made`` failed ones; None: no more tries."""
    if attempts_made > len(delays):
        return None
    base = delays[attempts_made - 1]
    return base * (1 + JITTER * (2 * (rng or random).random() - 1))


def delivery_not_found(endpoint_id: str, delivery_id: str) -> NotFound:
    return NotFound(
        f"no delivery {delivery_id!r} of webhook {endpoint_id!r}; list them with "
        f"GET /api/webhooks/{endpoint_id}/deliveries"
    )


def due(db: Database, limit: int, now: datetime | None = None) -> list[str]:
    """Ids of pending deliveries whose time has come and that no live worker holds, oldest first."""
    now = now or utcnow()
    stale = now - timedelta(seconds=CLAIM_LEASE_S)
    with db.session() as s:
        return list(
            s.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.claimed_by.is_(None), WebhookDelivery.claimed_at < stale),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
        )


def claim(db: Database, delivery_id: str, worker: str) -> Outgoing | None:
    """Take one due delivery for ``worker``; None when another worker took it first (or it is no
    longer due)."""
    now = utcnow()
    stale = now - timedelta(seconds=CLAIM_LEASE_S)
    with db.session() as s:
        won = s.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.state == "pending",
                or_(WebhookDelivery.claimed_by.is_(None), WebhookDelivery.claimed_at < stale),
            )
            .values(claimed_by=worker, claimed_at=now)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = s.execute(
            select(WebhookDelivery.body, WebhookEndpoint.url, WebhookEndpoint.secret)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        ).one()
        return Outgoing(delivery_id, row.url, row.secret, row.body)


def record_attempt(
    db: Database,
    delivery_id: str,
    result: AttemptResult,
    delays: tuple[float, ...] = RETRY_DELAYS_S,
) -> DeliveryState | None:
    """Log one attempt and settle the delivery: delivered, due again after a backoff, or failed;
    its claim is released. None: an admin deleted its endpoint meanwhile (nothing is left to log)."""
    now = utcnow()
    with db.session() as s:
        row = s.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:
            return None
        s.add(
            WebhookAttempt(
                delivery_id=delivery_id,
                attempted_at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        row.attempts += 1
        row.claimed_by = None
        row.claimed_at = None
        if result.succeeded:
            row.state = "delivered"
            row.delivered_at = now
        else:
            wait = retry_delay_s(row.attempts, delays)
            if wait is None:
                row.state = "failed"
            else:
                row.next_attempt_at = now + timedelta(seconds=wait)
        return row.state  # type: ignore[return-value]


def deliveries_of(db: Database, endpoint_id: str, offset: int, limit: int) -> tuple[list[DeliveryLog], int]:
    """An endpoint's deliveries newest first, each with its attempts (oldest first), and how many
    deliveries there are in all."""
    with db.session() as s:
        query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = list(
            s.scalars(
                query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                .offset(offset)
                .limit(limit)
            )
        )
        attempts: dict[str, list[WebhookAttempt]] = {row.id: [] for row in rows}
        if rows:
            for attempt in s.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_(list(attempts)))
                .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
            ):
                attempts[attempt.delivery_id].append(attempt)
        return [DeliveryLog(row, attempts[row.id]) for row in rows], total


def redeliver(db: Database, endpoint_id: str, delivery_id: str) -> DeliveryLog:
    """Send a delivery again now (a failed one, or a delivered one the receiver lost), with the same
    ``webhook-id`` so a receiver that has it already can drop it. The retries start over."""
    with db.session() as s:
        row = s.get(WebhookDelivery, delivery_id)
        if row is None or row.endpoint_id != endpoint_id:
            raise delivery_not_found(endpoint_id, delivery_id)
        row.state = "pending"
        row.next_attempt_at = utcnow()
        row.attempts = 0
        row.delivered_at = None
        attempts = list(
            s.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
            )
        )
        return DeliveryLog(row, attempts)
