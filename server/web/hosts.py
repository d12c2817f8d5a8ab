"""Which ``Host`` names this server answers to; a request for any other is refused.

Links the server makes (a session's ``customer_url``, the console's) are built on the configured
public URL, or on the request's own address when there is none (``presenters.base_url``). Were any
``Host`` accepted, ``Host: evil.example`` would make a customer link to ``http://evil.example/...``
(issue 15, finding 9); so a request whose Host is not the server's own is refused before any route
sees it, as starlette's ``TrustedHostMiddleware`` does (the same patterns: a name, or
``*.example.com`` for its subdomains, or ``*`` for any), with a message that says what to do.

The server's own names (``host_rules``): the public URL's host, the address it listens on and its
internal address, the loopback names (``localhost``, ``127.0.0.0/8``, ``::1``) and the names given
with ``--allowed-hosts``. Listening on every address (``--host 0.0.0.0``, phones on the local
network), any address of this machine is its own too, checked when asked (a laptop that joins
another network gets a new one) by binding a socket to it, which the kernel allows only for a
local address; and so are the machine's host names.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette._utils import parse_host_header
from starlette.types import ASGIApp, Receive, Scope, Send

from ..cluster.settings import WILDCARD_HOSTS
from ..config import Settings, check_host_pattern
from .errors import error_response

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class HostRules:
    """``patterns``: names (lower case) and ``*.domain`` patterns; ``any_local_address``: an IP
    address of this machine is allowed (the server listens on all of them)."""

    patterns: frozenset[str]
    any_local_address: bool = False

    @property
    def allow_any(self) -> bool:
        return "*" in self.patterns

    def allows(self, host: str) -> bool:
        host = host.lower().strip("[]")
        if self.allow_any or host in self.patterns:
            return True
        if any(p.startswith("*.") and host.endswith(p[1:]) for p in self.patterns):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or (self.any_local_address and is_local_address(address))


def host_rules(settings: Settings) -> HostRules:
    """The names ``settings`` make this server's own, and ``settings.allowed_hosts``."""
    patterns = {*LOOPBACK_NAMES, *(check_host_pattern(p) for p in settings.allowed_hosts or ())}
    if settings.public_url:
        public_host = urlsplit(settings.public_url).hostname
        if public_host:
            patterns.add(public_host.lower())
    everywhere = settings.host in WILDCARD_HOSTS
    for host in (settings.host, settings.cluster.internal_host):
        if host not in WILDCARD_HOSTS:
            patterns.add(host.lower().strip("[]"))
    if everywhere:
        name = socket.gethostname().lower()
        patterns.update({name, f"{name}.local", socket.getfqdn().lower()})
    return HostRules(frozenset(patterns), any_local_address=everywhere)


def is_local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is one of this machine's: only those can be bound to."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


class TrustedHosts:
    """Middleware: HTTP requests and WebSockets whose ``Host`` ``rules`` do not allow get a 400 that
    says which address to use; everything else passes through untouched."""

    def __init__(self, app: ASGIApp, rules: HostRules, public_url: str | None) -> None:
        self.app = app
        self.rules = rules
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.rules.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        parsed = parse_host_header(header or None)
        if parsed is not None and self.rules.allows(parsed.host):
            await self.app(scope, receive, send)
            return
        shown = header[:100]
        logger.warning("refused a request for host %r, which is not one of this server's names", shown)
        where = f"open {self.public_url}" if self.public_url else "use the address the server was started on"
        response = error_response(
            400,
            "unknown_host",
            f"this server does not answer to the host {shown!r}: {where}, or start it with "
            "--allowed-hosts naming this host",
        )
        await response(scope, receive, send)
