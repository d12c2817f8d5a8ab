"""Headers every response of this server carries: ``X-Content-Type-Options: nosniff`` (a browser
never runs a JSON answer or an uploaded file as a script or a page because it "looks like" one),
and under TLS ``Strict-Transport-Security``, so a browser that once reached the site over https
never again goes to it over plain http, where a customer's link could be read on the way.

Browsers ignore the HSTS header over plain http, on an IP address and behind a certificate they
warned about (RFC 6797, sections 7.2 and 8.1), so a ``--self-signed`` server on a local address
stays reachable after a click-through.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A year, as browsers' preload lists ask for; subdomains are left out (other services may live there).
HSTS_VALUE = "max-age=31536000"


class SecurityHeaders:
    """Middleware: adds the headers above to every HTTP response that does not set them itself.
    ``hsts``: the site is served over https (``--tls-cert``/``--self-signed``, or an https public URL
    behind a proxy)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS_VALUE)
            await send(message)

        await self.app(scope, receive, with_headers)
