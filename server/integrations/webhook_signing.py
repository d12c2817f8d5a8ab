"""Signing outbound webhooks as the Standard Webhooks specification says (standardwebhooks.com).

Each delivery carries ``webhook-id`` (unique per message, the receiver's idempotency key),
``webhook-timestamp`` (integer seconds since the epoch) and ``webhook-signature``: space-separated
``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"`` keyed with the endpoint's secret. The
secret is shown to the admin as ``whsec_`` + base64 of 24 random bytes; the key is those bytes.
:func:`verify` is what a receiver does (and what the tests check the signing against).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60


class WebhookRejected(ValueError):
    """A delivery whose headers or signature do not check out (the message says which)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(secret: str, msg_id: str, timestamp_s: int, body: str) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    signed = f"{msg_id}.{timestamp_s}.{body}".encode()
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp_s: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign(secret, msg_id, timestamp_s, body),
        "content-type": "application/json",
    }


def verify(secret: str, received: dict[str, str], body: str, now_s: float) -> None:
    """Raises :class:`WebhookRejected` unless the delivery is signed with ``secret`` and recent."""
    lowered = {name.lower(): value for name, value in received.items()}
    msg_id, timestamp, signatures = (
        lowered.get("webhook-id"),
        lowered.get("webhook-timestamp"),
        lowered.get("webhook-signature"),
    )
    if not msg_id or not timestamp or not signatures:
        raise WebhookRejected("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp_s = int(timestamp)
    except ValueError:
        raise WebhookRejected(f"webhook-timestamp is not whole seconds: {timestamp!r}") from None
    if abs(now_s - timestamp_s) > TOLERANCE_S:
        raise WebhookRejected("webhook-timestamp is more than 5 minutes from now")
    expected = sign(secret, msg_id, timestamp_s, body).partition(",")[2]
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return
    raise WebhookRejected("no v1 signature matches")
