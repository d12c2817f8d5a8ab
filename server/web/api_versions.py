"""``/api/v1/...`` is the API's stable address; ``/api/...`` (the paths before versions) stays an
alias until ``UNVERSIONED_UNTIL``, and its answers say so (``Deprecation`` and ``Sunset`` headers,
RFC 9745 and RFC 8594) so a script's owner can see it in time.

A request to ``/api/v1/x`` is served by the route of ``/api/x``: one set of routes, two prefixes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CURRENT = "/api/v1/"
UNVERSIONED = "/api/"
UNVERSIONED_UNTIL = "Wed, 30 Jun 2027 00:00:00 GMT"  # the unversioned paths end after this date
DEPRECATION_HEADERS = [
    (b"deprecation", b"@1798761600"),  # 2027-01-01: from then, use /api/v1/
    (b"sunset", UNVERSIONED_UNTIL.encode()),
    (b"link", b'</api/v1/>; rel="successor-version"'),
]


class ApiVersions:
    """Serves ``/api/v1/...`` by the unversioned routes and marks unversioned answers deprecated."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(UNVERSIONED):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CURRENT):
            unversioned = UNVERSIONED + path[len(CURRENT) :]
            raw = scope.get("raw_path")
            scope = {
                **scope,
                "path": unversioned,
                "raw_path": raw.replace(CURRENT.encode(), UNVERSIONED.encode(), 1) if raw else None,
            }
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *DEPRECATION_HEADERS]}
            await send(message)

        await self.app(scope, receive, marked)
