"""``GET /metrics``: the Prometheus text format, for the addresses allowed to scrape, or a signed-in admin.

The metrics say how many calls run and how busy the server is, which is nobody else's business, so
without a staff session only the addresses in ``METRICS_FROM`` (loopback; a site adds its
Prometheus server's address) may read them; from elsewhere the answer is 403 with what to do.
"""

from __future__ import annotations

import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..metrics import REGISTRY
from .auth import require_role
from .errors import ApiError

METRICS_FROM = ("127.0.0.0/8", "::1/128")


def allowed_to_scrape(address: str | None, networks: tuple[str, ...] = METRICS_FROM) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # "testclient" or a unix socket peer: no address to trust
    return any(ip in ipaddress.ip_network(network) for network in networks)


async def metrics(request: Request) -> Response:
    if not allowed_to_scrape(request.client.host if request.client else None):
        try:
            await run_blocking(require_role, request, "admin")
        except ApiError as exc:
            raise ApiError(
                exc.status if exc.status == 403 else 403,
                "forbidden",
                "metrics are served to the addresses allowed to scrape them (loopback by default) "
                "or to a signed-in admin",
            ) from None
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    return [Route("/metrics", metrics, methods=["GET"])]
