"""``GET /api/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&procedure=ID``: the dashboard's figures (staff)."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..blocking import run_blocking
from ..clock import utcnow
from ..recordings.analytics import analytics
from .auth import require_staff
from .errors import ApiError
from .state import services

DEFAULT_DAYS = 30


def parse_day(name: str, text: str | None, default: date) -> date:
    if text is None or text == "":
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid", f"{name}: {text!r} is not a date; write it as YYYY-MM-DD") from None


async def analytics_get(request: Request) -> JSONResponse:
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
    return JSONResponse(body)


def routes() -> list[Route]:
    return [Route("/api/analytics", analytics_get, methods=["GET"])]
