"""Short-lived TURN credentials for each participant (the "TURN REST API" scheme coturn implements
with ``use-auth-secret``), instead of one static password handed to every customer with a link.

The username is ``<expiry unix time>:<name>`` and the password is base64(HMAC-SHA1(secret,
username)); coturn, holding the same ``static-auth-secret``, recomputes it and refuses the
username once its expiry has passed. Each participant gets credentials of its own for the
session's length (``TURN_TTL_S``), so a leaked one is worth one session, not the whole site.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..config import IceServerConfig

TURN_TTL_S = 12 * 3600  # a session lasts at most a working day


def turn_credential(secret: str, name: str, now_s: float, ttl_s: int = TURN_TTL_S) -> tuple[str, str]:
    """(username, password) valid until ``now_s + ttl_s``."""
    username = f"{int(now_s) + ttl_s}:{name}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(
    servers: tuple[IceServerConfig, ...], turn_secret: str | None, name: str, now_s: float
) -> tuple[IceServerConfig, ...]:
    """The ICE servers as one participant (``name``) gets them: a TURN server configured without a
    static username gets credentials of this participant's own when the site has a TURN secret."""
    if turn_secret is None:
        return servers
    issued = []
    for server in servers:
        if server.url.startswith(("turn:", "turns:")) and server.username is None:
            username, password = turn_credential(turn_secret, name, now_s)
            server = IceServerConfig(server.url, username, password)
        issued.append(server)
    return tuple(issued)
