"""Every route of the app, in one list (the app factory mounts it)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import (
    accounts_api,
    analytics_api,
    cases_api,
    customer_api,
    demo_api,
    export_api,
    health_api,
    internal_api,
    languages_api,
    login_api,
    metrics_api,
    openapi,
    pages,
    playback_api,
    procedures_api,
    queue_api,
    selfhelp_api,
    sessions_api,
    snapshots_api,
    webhooks_api,
    ws,
)


def all_routes() -> list[BaseRoute]:
    return [
        *health_api.routes(),
        *metrics_api.routes(),
        *login_api.routes(),
        *accounts_api.routes(),
        *cases_api.routes(),
        *sessions_api.routes(),
        *demo_api.routes(),
        *procedures_api.routes(),
        *snapshots_api.routes(),
        *analytics_api.routes(),
        *export_api.routes(),
        *playback_api.routes(),
        *pages.routes(),
        *languages_api.routes(),
        *customer_api.routes(),
        *selfhelp_api.routes(),
        *queue_api.routes(),
        *webhooks_api.routes(),
        *internal_api.routes(),
        *openapi.routes(),
        WebSocketRoute("/ws", ws.signaling_endpoint),
        Mount("/static", StaticFiles(directory=pages.CLIENT_WEB_DIR), name="static"),
    ]
