"""``GET /api/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&procedure=ID``: the dashboard's figures (staff)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..blocking import run_blocking
from ..clock import utcnow
from ..recordings.analytics import analytics
from .auth import require_staff
from .errors import ApiError
from .operations import QueryParam, responds
from .response_models import Analytics
from .state import services

DEFAULT_DAYS = 30


def parse_day(name: str, text: str | None, default: date) -> date:
    if text is None or text == "":
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid", f"{name}: {text!r} is not a date; write it as YYYY-MM-DD") from None


@responds(
    Analytics,
    summary="Outcome figures per procedure and step",
    access="staff",
    query=(
        QueryParam("from", "first day, YYYY-MM-DD (default: 29 days before to)"),
        QueryParam("to", "last day, YYYY-MM-DD (default: today)"),
        QueryParam("procedure", "one procedure's id"),
    ),
)
async def analytics_get(request: Request) -> dict[str, Any]:
    await run_blocking(require_staff, request)
    today = utcnow().date()
    params = request.query_params
    day_to = parse_day("to", params.get("to"), today)
    day_from = parse_day("from", params.get("from"), day_to - timedelta(days=DEFAULT_DAYS - 1))
    if day_from > day_to:
        raise ApiError(
            422, "invalid", f"from: {day_from.isoformat()} is after to ({day_to.isoformat()}); swap them"
        )
    found = services(request)
    body = await run_blocking(
        analytics,
        found.db,
        found.settings.recordings_dir,
        found.procedures.get,
        day_from,
        day_to,
        params.get("procedure") or None,
    )
    return body


def routes() -> list[Route]:
    return [Route("/api/analytics", analytics_get, methods=["GET"])]
