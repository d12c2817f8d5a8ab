"""``/healthz`` (is the process alive: always ok while it answers) and ``/readyz`` (should a load
balancer send it new calls: the database answers, the recordings folder can be written and has
room, the service's Redis answers when there is one, and the process is not draining). ``/readyz``
answers 503 with the failing checks named."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..blocking import run_blocking
from ..cluster.base import Cluster
from ..records.database import Database
from .operations import responds
from .response_models import Health, Readiness
from .state import services

MIN_FREE_BYTES = 1 << 30  # below 1 GiB a recording of an hour (about 0.3-1 GB) may not fit


@responds(Health, summary="Is the process alive", access="anyone")
async def healthz(_request: Request) -> dict[str, str]:
    return {"status": "ok"}


def database_check(db: Database) -> dict[str, Any]:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"; the message says which
        return {"ok": False, "message": f"the database does not answer: {type(exc).__name__}: {exc}"}
    return {"ok": True}


def recordings_check(folder: Path, min_free_bytes: int = MIN_FREE_BYTES) -> dict[str, Any]:
    """The folder exists or can be made, a file can be written in it, and it has room."""
    probe = folder / f".readyz-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return {
            "ok": False,
            "message": f"the recordings folder {folder} cannot be written: {exc.strerror or exc}",
        }
    free = shutil.disk_usage(folder).free
    if free < min_free_bytes:
        return {
            "ok": False,
            "free_bytes": free,
            "message": f"the recordings folder {folder} has {free // (1 << 20)} MiB free "
            f"(at least {min_free_bytes // (1 << 20)} MiB needed)",
        }
    return {"ok": True, "free_bytes": free}


async def cluster_checks(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The service's registry answers (Redis, when several processes share one), and this process
    is not draining (a draining one finishes its calls and takes no new ones)."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        async with asyncio.timeout(2):
            await cluster.nodes()
        checks["registry"] = {"ok": True}
    except Exception as exc:  # any client error means "not ready"; the message says which
        checks["registry"] = {"ok": False, "message": f"the service's registry does not answer: {exc}"}
    checks["draining"] = (
        {"ok": False, "message": "this process is draining: it finishes its calls and takes no new ones"}
        if cluster.draining
        else {"ok": True}
    )
    return checks


@responds(
    Readiness,
    summary="Should it take new calls (503 with the failing checks named)",
    access="anyone",
    also={503: Readiness},
)
async def readyz(request: Request) -> JSONResponse:
    found = services(request)
    checks = {
        "database": await run_blocking(database_check, found.db),
        "recordings": await run_blocking(recordings_check, found.settings.recordings_dir),
        **(await cluster_checks(found.live.cluster)),
    }
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "pid": os.getpid(), "checks": checks},
        status_code=200 if ready else 503,
    )


def routes() -> list[Route]:
    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
