"""The HTML pages: static files from ``client_web/`` behind sign-in, and the customer's link check.

The staff pages are served as they are; their scripts read ids from ``location.pathname`` and
data from ``/api/...``. A visitor signed in with a one-time password is sent to the change-password
page from every staff page, as the API refuses them (``auth.py``).

A customer link is checked here, before any page script runs: a link that is unknown, expired or
for an ended session (or a database that cannot answer) gets a plain error page with no script at
all, so the phone never asks for the camera for a call that cannot happen. Those pages are in the
customer's language (``customer_pages.py`` has their words).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..languages import Catalogs
from ..records.accounts import Principal
from ..records.links import LinkProblem, check_link
from ..records.vocabulary import one_of
from .auth import PASSWORD_PAGE, cookie_principal
from .customer_pages import CustomerPage, page_words
from .login_api import password_page_url
from .state import services

log = logging.getLogger(__name__)

# The pages and their scripts, served as they are (no build step).
CLIENT_WEB_DIR = Path(__file__).resolve().parent.parent.parent / "client_web"

# Hosts as browsers send them: names, IPv4, [IPv6], an optional port. Anything else is left
# out of the CSP rather than echoed into a header.
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def content_security_policy(host: str | None) -> str:
    """Scripts and styles from this site only (inline styles allowed), camera and remote video from
    ``blob:``/``mediastream:``, and WebSocket to this host. ``connect-src 'self'`` alone does not
    cover ``ws:``/``wss:`` in older Safari, so the host is named explicitly when it looks sane."""
    connect = "'self'"
    if host and _HOST_RE.match(host):
        connect += f" wss://{host} ws://{host}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def security_headers(request: Request) -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": content_security_policy(request.headers.get("host")),
        "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
        # Pages show live state and the join page carries a secret in its URL: never cache them.
        "Cache-Control": "no-store",
    }


def message_page(
    request: Request, status: int, title: str, text: str, *, lang: str = "en", direction: str = "ltr"
) -> HTMLResponse:
    """A self-contained page with no script, so it never triggers a camera or microphone prompt."""
    body = f"""<!doctype html>
<html lang="{html.escape(lang)}" dir="{"rtl" if direction == "rtl" else "ltr"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - RepairSight</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; padding: 2rem 1.25rem; color: #1d2430; }}
main {{ max-width: 32rem; margin: 0 auto; }}
h1 {{ font-size: 1.5rem; }}
p {{ font-size: 1.1rem; line-height: 1.5; }}
</style>
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
<p>{html.escape(text)}</p>
</main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status, headers=security_headers(request))


def static_page(request: Request, name: str) -> Response:
    path = CLIENT_WEB_DIR / name
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return message_page(
            request,
            500,
            "Page missing",
            f"This server has no client_web/{name}. Reinstall RepairSight or check the installation.",
        )
    return HTMLResponse(content, headers=security_headers(request))


def signed_in(request: Request) -> Principal | None:
    """The staff user of the cookie. Pages ignore bearer tokens: browsers do not send them."""
    return cookie_principal(request)


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path
    return RedirectResponse(f"/?next={quote(target, safe='/')}", status_code=303)


def to_password_change(request: Request) -> RedirectResponse:
    return RedirectResponse(password_page_url(request.url.path), status_code=303)


async def home(request: Request) -> Response:
    principal = await run_blocking(signed_in, request)
    if principal is not None and principal.must_change_password:
        return to_password_change(request)
    return static_page(request, "home.html" if principal else "login.html")


def staff_page(filename: str, *roles: str) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in staff (of one of ``roles``, when given); a signed-out visitor is sent to
    sign in, then back, and one signed in with a one-time password to change it first."""

    async def page(request: Request) -> Response:
        principal = await run_blocking(signed_in, request)
        if principal is None:
            return to_sign_in(request)
        if principal.must_change_password:
            return to_password_change(request)
        if roles and principal.role not in roles:
            return message_page(
                request,
                403,
                "Not open to your role",
                f"Only the role {one_of(roles)} may open this page; you are signed in as "
                f"{principal.username} ({principal.role}). Ask an admin if you need something here.",
            )
        return static_page(request, filename)

    return page


async def password_page(request: Request) -> Response:
    """Where anyone signed in changes their password; the one page a one-time password reaches."""
    if await run_blocking(signed_in, request) is None:
        return to_sign_in(request)
    return static_page(request, "password.html")


def customer_message_page(request: Request, status: int, page: CustomerPage) -> HTMLResponse:
    """One of the pages a customer can land on instead of theirs (``customer_pages.py``), in the
    language their browser asks for."""
    catalogs = Catalogs(services(request).settings.locales_dir)
    words = page_words(catalogs, request.headers.get("accept-language"), page)
    response = message_page(
        request, status, words.title, words.text, lang=words.language.code, direction=words.language.dir
    )
    response.headers["Content-Language"] = words.language.code
    response.headers["Vary"] = "Accept-Language"
    return response


def database_down_page(request: Request, exc: SQLAlchemyError) -> HTMLResponse:
    """The database could not answer a customer's link: say so in their words; the link still works."""
    # The path holds the link's secret: only its first part is logged.
    reason = getattr(exc, "orig", None) or exc
    log.error("/%s/…: the database could not answer: %s", request.url.path.split("/")[1], reason)
    return customer_message_page(request, 503, "unavailable")


LINK_PROBLEM_PAGES: dict[LinkProblem, tuple[int, CustomerPage]] = {
    "unknown": (404, "linkUnknown"),
    "expired": (410, "linkExpired"),
    "ended": (410, "sessionEnded"),
}


async def join_page(request: Request) -> Response:
    try:
        check = await run_blocking(check_link, services(request).db, request.path_params["token"])
    except SQLAlchemyError as exc:
        return database_down_page(request, exc)
    if check.problem is not None:
        return customer_message_page(request, *LINK_PROBLEM_PAGES[check.problem])
    return static_page(request, "customer.html")


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/cases/{case_id}", staff_page("case.html"), methods=["GET"]),
        Route("/console/{session_id}", staff_page("console.html"), methods=["GET"]),
        Route("/dashboard", staff_page("dashboard.html"), methods=["GET"]),
        Route("/playback/{session_id}", staff_page("playback.html"), methods=["GET"]),
        Route("/library", staff_page("library.html"), methods=["GET"]),
        Route("/admin", staff_page("admin.html", "admin"), methods=["GET"]),
        Route(PASSWORD_PAGE, password_page, methods=["GET"]),
        Route("/join/{token}", join_page, methods=["GET"]),
    ]
