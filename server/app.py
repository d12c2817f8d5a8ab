"""The application factory: ``create_app(settings)`` builds everything and hands it out.

The app's services (settings, database, procedure library, live registry, export jobs) are made
here, once, and reached by routes through ``server.web.state.services``; the lifespan recovers
sessions a previous process left unfinished and ends the live ones on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from procedures import ProcedureLibrary

from . import metrics
from .cluster import make_cluster
from .cluster.internal import internal_secret
from .config import Settings
from .integrations.webhook_delivery import DeliveryOptions, WebhookWorker
from .live.registry import LiveRegistry
from .live.workers.messages import VisionPace
from .live.workers.pool import MediaWorkers
from .recordings.jobs import FileJobs
from .records.database import Database
from .stalls import LoopWatch, time_full_collections
from .web.api_versions import ApiVersions
from .web.errors import EXCEPTION_HANDLERS
from .web.hosts import TrustedHosts, host_rules
from .web.routes import all_routes
from .web.security_headers import SecurityHeaders
from .web.state import Services

logger = logging.getLogger(__name__)


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
    procedures = ProcedureLibrary.with_builtin(settings.procedure_dirs)
    for error in procedures.errors:
        logger.warning("procedure not loaded: %s: %s", error.path, error.message)
    return procedures


async def drain(app: Starlette) -> None:
    """SIGTERM: no new session comes here; live ones go on until they end or the drain timeout passes
    (then the shutdown ends them cleanly)."""
    found = app.state.services
    assert isinstance(found, Services)
    await found.live.wait_drained(found.settings.cluster.drain_timeout_s)


async def end_live_sessions(app: Starlette) -> None:
    """Before the server closes its sockets: end every session still live here, while the pages'
    sockets are open, so they are told it ended rather than left to reconnect to a server that is
    going away."""
    found = app.state.services
    assert isinstance(found, Services)
    for session_id in list(found.live.sessions):
        await found.live.end(session_id, "the server is shutting down; start a new session when it is back")


def create_app(
    settings: Settings,
    database: Database | None = None,
    procedures: ProcedureLibrary | None = None,
    webhooks: DeliveryOptions | None = None,
) -> Starlette:
    """``procedures``: an already loaded library (the CLI loads it first to report on it);
    ``webhooks``: how the webhook delivery worker paces itself (tests shorten its waits)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    db = database or Database(settings.database_url)
    if procedures is None:
        procedures = load_procedures(settings)
    cluster = make_cluster(settings.cluster)
    jobs = FileJobs(cluster.exclusive)
    workers = MediaWorkers(settings.media_workers, VisionPace(settings.vision_fps, settings.hands_fps))
    live = LiveRegistry(settings, db, procedures, workers, jobs, cluster)
    signing_key = secret_key_for(settings)
    metrics.watch(live, jobs)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Joins the service and recovers the sessions no live process holds (alone: every live one).
        await cluster.start(live.cluster_hooks())
        deliveries = WebhookWorker(db, webhooks)
        deliveries.start()
        time_full_collections()
        loop_watch = asyncio.ensure_future(LoopWatch().run())
        try:
            yield
        finally:
            loop_watch.cancel()
            await live.close_all("the server is shutting down")
            await _app.state.services.demos.close()  # their sessions ended: each demo's peer closes
            await deliveries.stop()
            await jobs.wait_all()
            await cluster.close()

    served_over_https = settings.tls_cert is not None or (settings.public_url or "").startswith("https://")
    middleware = [Middleware(SecurityHeaders, hsts=served_over_https)]
    if settings.allowed_hosts is not None:
        rules = host_rules(settings)
        middleware.append(Middleware(TrustedHosts, rules=rules, public_url=settings.public_url))
    middleware += [
        Middleware(ApiVersions),
        Middleware(
            SessionMiddleware,
            secret_key=signing_key,
            session_cookie="repairsight_session",
            same_site="lax",
            https_only=settings.tls_cert is not None,
            max_age=12 * 3600,
        ),
    ]
    app = Starlette(
        routes=all_routes(),
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
    app.state.services = Services(settings, db, procedures, live, jobs, internal_secret(signing_key))
    return app
