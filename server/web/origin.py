"""Whether a request comes from a page of this site's own origin: the guard against cross-site
request forgery and WebSocket hijacking.

A browser sends the sign-in cookie with requests that any page of the same *site* makes, and
``SameSite=Lax`` counts every port of a host as one site: a page on another port of the same
host could create a case with a form, or open ``/ws`` as the signed-in expert and read the
customer's chat. So state-changing requests that a cookie authenticates (``auth.py``) and every
WebSocket (``ws.py``) must come from the site's own origin:

- ``Sec-Fetch-Site``, when the browser sends it, decides (the browser itself compared the two
  origins, so it stays right behind a proxy that rewrites the Host header): ``same-origin`` and
  ``none`` (the person typed the address) pass, ``same-site`` and ``cross-site`` do not.
- Otherwise ``Origin`` must be the site's: ``Settings.public_url`` (``--public-url``, what a
  reverse proxy's visitors see), or the request's own scheme, Host and port. ``Origin: null``
  (a sandboxed frame, a ``data:`` page) is another origin.
- A request with neither header did not come from a browser's page (curl, scripts, API
  clients), so it carries no forged intent and passes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from .errors import ApiError
from .state import services

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}
WEB_SCHEMES = {"ws": "http", "wss": "https"}

Origin = tuple[str, str, int]


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` as (scheme, host, port), the port filled in; None when it is not
    an http(s) origin (``null``, garbage)."""
    try:
        parts = urlsplit(text.strip())
        scheme = WEB_SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return scheme, parts.hostname.lower(), port


def own_origins(conn: HTTPConnection) -> set[Origin]:
    """The site's origins: the configured public URL's, and the one this request was made to."""
    found = {parse_origin(f"{conn.url.scheme}://{conn.url.netloc}")}
    public_url = services(conn).settings.public_url
    if public_url:
        found.add(parse_origin(public_url))
    return {origin for origin in found if origin is not None}


def is_same_origin(conn: HTTPConnection) -> bool:
    """Whether the page that made this request (if a page made it) is of this site's origin."""
    fetch_site = conn.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() in SAME_ORIGIN_FETCH_SITES
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    parsed = parse_origin(origin)
    return parsed is not None and parsed in own_origins(conn)


def changes_state(conn: HTTPConnection) -> bool:
    """A WebSocket, or an HTTP request with a method other than GET, HEAD and OPTIONS."""
    return conn.scope["type"] == "websocket" or conn.scope.get("method", "GET") not in SAFE_METHODS


def require_same_origin(conn: HTTPConnection) -> None:
    """403 ``cross_origin`` for a state-changing request from another origin's page."""
    if changes_state(conn) and not is_same_origin(conn):
        raise ApiError(
            403,
            "cross_origin",
            "this request came from a page of another site or port, so the sign-in cookie cannot be used "
            "for it; use this site's own pages, or an API token ('Authorization: Bearer <token>'). "
            "Behind a reverse proxy, start the server with --public-url set to the address people use",
        )
