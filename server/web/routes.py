"""Every route of the app, in one list (the app factory mounts it)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import (
    accounts_api,
    analytics_api,
    cases_api,
    customer_api,
    export_api,
    health_api,
    internal_api,
    login_api,
    metrics_api,
    pages,
    playback_api,
    procedures_api,
    sessions_api,
    snapshots_api,
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
        *procedures_api.routes(),
        *snapshots_api.routes(),
        *analytics_api.routes(),
        *export_api.routes(),
        *playback_api.routes(),
        *pages.routes(),
        *customer_api.routes(),
        *internal_api.routes(),
        WebSocketRoute("/ws", ws.signaling_endpoint),
        Mount("/static", StaticFiles(directory=pages.CLIENT_WEB_DIR), name="static"),
    ]
