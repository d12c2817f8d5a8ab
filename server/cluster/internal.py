"""Calls between the processes of one service: who may make them, and the REST calls forwarded to a
session's owner (ending it, a page's problem report).

The processes share the cookie-signing key (every one must, for sign-in to work on all of them), so
the internal secret is derived from it (HMAC-SHA256 with a fixed label) rather than configured apart:
a request with :data:`INTERNAL_HEADER` set to it comes from a process of this service.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from typing import Any

import httpx

from .base import ClusterError
from .nodes import NodeInfo

INTERNAL_HEADER = "x-repairsight-internal"
FORWARD_TIMEOUT_S = 10.0


def internal_secret(signing_key: str) -> str:
    return hmac.new(signing_key.encode(), b"repairsight internal calls v1", hashlib.sha256).hexdigest()


def is_internal(header_value: str | None, secret: str) -> bool:
    return header_value is not None and hmac.compare_digest(header_value.encode(), secret.encode())


def internal_ssl() -> ssl.SSLContext:
    """With TLS on, a process's internal port serves its own (often self-signed) certificate: the
    call is authenticated by the internal secret; keep internal ports on a private network."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def forward(node: NodeInfo, secret: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``path`` on ``node``'s internal endpoint; its JSON answer."""
    verify: ssl.SSLContext | bool = internal_ssl() if node.internal_url.startswith("https:") else True
    try:
        async with httpx.AsyncClient(
            base_url=node.internal_url, timeout=FORWARD_TIMEOUT_S, verify=verify
        ) as client:
            response = await client.post(path, json=body, headers={INTERNAL_HEADER: secret})
    except httpx.HTTPError as exc:
        raise ClusterError(
            "session_unavailable", f"the server holding this session did not answer ({exc}); try again"
        ) from None
    if response.status_code != 200:
        raise ClusterError(
            "session_unavailable",
            f"the server holding this session refused the call ({response.status_code}); try again",
        )
    answer = response.json()
    assert isinstance(answer, dict)
    return answer
