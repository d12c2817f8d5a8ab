"""The delivery worker: an asyncio task of each server process that sends the outbox's due
deliveries, signed (``webhook_signing.py``), and records every attempt (``webhook_outbox.py``).

It runs beside the requests, never in them: a route or a live session only writes outbox rows, so an
endpoint that is slow or down costs them nothing. A pass claims up to ``batch`` due deliveries and
sends them at once, each with a timeout; then it sleeps ``poll_interval_s`` unless the batch was full.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

import httpx

from ..blocking import run_blocking
from ..records.database import Database
from . import webhook_signing
from .webhook_outbox import RETRY_DELAYS_S, AttemptResult, Outgoing, claim, due, record_attempt

logger = logging.getLogger(__name__)
USER_AGENT = "RepairSight-Webhooks/1"
# What of a failed answer's body the delivery log keeps: enough to read the receiver's complaint.
ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class DeliveryOptions:
    poll_interval_s: float = 1.0
    timeout_s: float = 10.0
    batch: int = 20
    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S


def worker_name() -> str:
    """Who holds a claim: this host and process, and a random part (two workers of one process)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


async def send(client: httpx.AsyncClient, outgoing: Outgoing, timeout_s: float) -> AttemptResult:
    """One signed POST; what came back, or why nothing did. Redirects are not followed: an endpoint
    must be given as its final URL."""
    headers = webhook_signing.headers(outgoing.secret, outgoing.delivery_id, int(time.time()), outgoing.body)
    headers["user-agent"] = USER_AGENT
    started = time.monotonic()
    error: str | None = None
    status: int | None = None
    try:
        response = await client.post(
            outgoing.url, content=outgoing.body.encode(), headers=headers, timeout=timeout_s
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}: {response.text[:ERROR_BODY_CHARS]}".rstrip(": ")
    except httpx.TimeoutException:
        error = f"no answer within {timeout_s:g} s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return AttemptResult(status, error, round((time.monotonic() - started) * 1000))


class WebhookWorker:
    """Sends due deliveries until stopped. ``start`` in the app's lifespan, ``stop`` at its end."""

    def __init__(self, db: Database, options: DeliveryOptions | None = None) -> None:
        self.db = db
        self.options = options or DeliveryOptions()
        self.name = worker_name()
        self._client = httpx.AsyncClient(follow_redirects=False)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook deliveries")

    async def stop(self) -> None:
        """Stop sending; a delivery cut off mid-send is taken up again once its claim lapses."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._client.aclose()

    async def deliver_due(self) -> int:
        """One pass: claim and send what is due now; returns how many this worker sent."""
        ids = await run_blocking(due, self.db, self.options.batch)
        claimed = [
            found for found in [await run_blocking(claim, self.db, i, self.name) for i in ids] if found
        ]
        await asyncio.gather(*(self._deliver(outgoing) for outgoing in claimed))
        return len(claimed)

    async def _deliver(self, outgoing: Outgoing) -> None:
        result = await send(self._client, outgoing, self.options.timeout_s)
        state = await run_blocking(
            record_attempt, self.db, outgoing.delivery_id, result, self.options.retry_delays_s
        )
        if result.error:
            logger.info(
                "webhook delivery %s to %s: %s (now %s)",
                outgoing.delivery_id,
                outgoing.url,
                result.error,
                state,
            )

    async def _run(self) -> None:
        while True:
            sent = 0
            try:
                sent = await self.deliver_due()
            except Exception:
                logger.exception("webhook deliveries: a pass failed; trying again")
            if sent < self.options.batch:
                await asyncio.sleep(self.options.poll_interval_s)
