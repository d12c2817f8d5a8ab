"""Outbound webhooks, for admins (``docs/integrations.md``): the endpoints (made with a signing
secret shown once), and each one's delivery log, from which a delivery can be sent again. The rules
are ``server/integrations/``'s; sending happens in the delivery worker, never in these routes."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..blocking import run_blocking
from ..clock import iso
from ..integrations.webhook_endpoints import (
    create_endpoint,
    delete_endpoint,
    list_endpoints,
    load_endpoint,
    update_endpoint,
)
from ..integrations.webhook_outbox import DeliveryLog, deliveries_of, redeliver
from ..records.models import WebhookEndpoint
from .auth import require_role
from .bodies import parse_json
from .operations import responds
from .pagination import page_fields, page_request
from .state import services
from .webhooks_models import (
    DeliveryAnswer,
    DeliveryPage,
    WebhookAnswer,
    WebhookChanged,
    WebhookCreate,
    WebhookMade,
    WebhookPage,
    WebhookPatch,
)

ADMINS = ("admin",)


def webhook_json(row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "event_types": row.event_types.split(),
        "description": row.description,
        "enabled": row.enabled,
        "created_at": iso(row.created_at),
    }


def delivery_json(log: DeliveryLog) -> dict[str, Any]:
    row = log.delivery
    return {
        "id": row.id,
        "event_type": row.event_type,
        "state": row.state,
        "created_at": iso(row.created_at),
        "next_attempt_at": iso(row.next_attempt_at) if row.state == "pending" else None,
        "delivered_at": iso(row.delivered_at),
        "payload": json.loads(row.body),
        "attempts": [
            {
                "attempted_at": iso(attempt.attempted_at),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
            }
            for attempt in log.attempts
        ],
    }


@responds(WebhookPage, summary="The webhook endpoints, oldest first", access="admin", paged=True)
async def webhooks_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    page = page_request(request)
    rows, total = await run_blocking(list_endpoints, services(request).db, page.offset, page.limit)
    return {"webhooks": [webhook_json(row) for row in rows], **page_fields(page, len(rows), total)}


@responds(
    WebhookMade,
    summary="Add a webhook endpoint (its signing secret is answered this once)",
    access="admin",
    status=201,
    body=WebhookCreate,
    headers={"Cache-Control": "no-store"},
)
async def webhooks_create(request: Request) -> dict[str, Any]:
    principal = await run_blocking(require_role, request, *ADMINS)
    body = await parse_json(request, WebhookCreate)
    row = await run_blocking(
        create_endpoint,
        services(request).db,
        body.url,
        body.event_types,
        body.description,
        body.enabled,
        principal.user_id,
    )
    return {**webhook_json(row), "secret": row.secret}


@responds(WebhookAnswer, summary="A webhook endpoint", access="admin")
async def webhook_get(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    return webhook_json(
        await run_blocking(load_endpoint, services(request).db, request.path_params["webhook_id"])
    )


@responds(
    WebhookChanged,
    summary="Change a webhook endpoint (with rotate_secret, its new secret is answered this once)",
    access="admin",
    body=WebhookPatch,
    headers={"Cache-Control": "no-store"},
)
async def webhook_patch(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    body = await parse_json(request, WebhookPatch)
    row = await run_blocking(
        update_endpoint,
        services(request).db,
        request.path_params["webhook_id"],
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
        rotate_secret=body.rotate_secret,
    )
    return {**webhook_json(row), "secret": row.secret if body.rotate_secret else None}


@responds(
    None, summary="Delete a webhook endpoint, its pending deliveries and its log", access="admin", status=204
)
async def webhook_delete(request: Request) -> None:
    await run_blocking(require_role, request, *ADMINS)
    await run_blocking(delete_endpoint, services(request).db, request.path_params["webhook_id"])


@responds(
    DeliveryPage,
    summary="A webhook endpoint's deliveries, newest first, with every attempt",
    access="admin",
    paged=True,
)
async def deliveries_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    db = services(request).db
    endpoint = await run_blocking(load_endpoint, db, request.path_params["webhook_id"])
    page = page_request(request)
    logs, total = await run_blocking(deliveries_of, db, endpoint.id, page.offset, page.limit)
    return {"deliveries": [delivery_json(log) for log in logs], **page_fields(page, len(logs), total)}


@responds(DeliveryAnswer, summary="Send a delivery again now (same webhook-id)", access="admin", status=202)
async def delivery_redeliver(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    log = await run_blocking(
        redeliver, services(request).db, request.path_params["webhook_id"], request.path_params["delivery_id"]
    )
    return delivery_json(log)


def routes() -> list[Route]:
    return [
        Route("/api/webhooks", webhooks_list, methods=["GET"]),
        Route("/api/webhooks", webhooks_create, methods=["POST"]),
        Route("/api/webhooks/{webhook_id}", webhook_get, methods=["GET"]),
        Route("/api/webhooks/{webhook_id}", webhook_patch, methods=["PATCH"]),
        Route("/api/webhooks/{webhook_id}", webhook_delete, methods=["DELETE"]),
        Route("/api/webhooks/{webhook_id}/deliveries", deliveries_list, methods=["GET"]),
        Route(
            "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            delivery_redeliver,
            methods=["POST"],
        ),
    ]
