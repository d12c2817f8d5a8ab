"""The application factory: ``create_app(settings)`` builds everything and hands it out.

State lives on ``app.state`` (made here and in the lifespan, closed on shutdown), never in
module globals: ``app.state.settings``, ``app.state.db`` (:class:`server.db.Database`),
``app.state.live`` (:class:`server.live.LiveRegistry`, the sessions in progress) and
``app.state.procedures`` (:class:`procedures.ProcedureLibrary`, loaded once: procedures are files).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from procedures import BUILTIN_LIBRARY, ProcedureLibrary

from . import analytics_api, api, export_api, pages, playback_api, procedures_api, snapshots_api, ws
from .config import Settings
from .db import Database
from .errors import ApiError, handle_api_error, handle_http_exception
from .live import LiveRegistry
from .recovery import recover_unfinished_sessions

logger = logging.getLogger(__name__)

CLIENT_WEB_DIR = Path(__file__).resolve().parent.parent / "client_web"


def secret_key_for(settings: Settings) -> str:
    """The cookie-signing key: from settings, else kept in the data directory across restarts."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_procedures(settings: Settings) -> ProcedureLibrary:
    """The built-in procedures and those of ``settings.procedure_dirs``; what fails is logged, not fatal."""
    procedures = ProcedureLibrary.load([BUILTIN_LIBRARY, *settings.procedure_dirs])
    for error in procedures.errors:
        logger.warning("procedure not loaded: %s: %s", error.path, error.message)
    return procedures


def create_app(
    settings: Settings, database: Database | None = None, procedures: ProcedureLibrary | None = None
) -> Starlette:
    """``procedures``: an already loaded library (the CLI loads it first to report on it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    db = database or Database(settings.database_url)
    if procedures is None:
        procedures = load_procedures(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        recovered = recover_unfinished_sessions(db, settings.recordings_dir)
        for session_id in recovered:
            logger.warning("session %s was cut off by a restart: marked ended, recording partial", session_id)
        live = LiveRegistry(settings, db, app.state.procedures)
        app.state.live = live
        try:
            yield
        finally:
            await live.close_all("the server is shutting down")

    routes = [
        Route("/healthz", api.healthz),
        *api.routes(),
        *procedures_api.routes(),
        *snapshots_api.routes(),
        *analytics_api.routes(),
        *export_api.routes(),
        *playback_api.routes(),
        *pages.routes(),
        WebSocketRoute("/ws", ws.signaling_endpoint),
        Mount("/static", StaticFiles(directory=CLIENT_WEB_DIR), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=secret_key_for(settings),
            session_cookie="repairsight_session",
            same_site="lax",
            https_only=settings.tls_cert is not None,
            max_age=12 * 3600,
        )
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
    )
    app.state.settings = settings
    app.state.db = db
    app.state.procedures = procedures
    return app
