"""Random ids and bearer secrets, and the one-way hash secrets are stored as.

Ids and tokens are random (128+ bits), never sequential, so they can appear in links without
leaking how many cases a site has.
"""

from __future__ import annotations

import hashlib
import secrets


def new_id() -> str:
    """A random id: 128 bits, URL-safe."""
    return secrets.token_urlsafe(16)


def new_secret_token() -> str:
    """A random bearer secret: 192 bits, URL-safe."""
    return secrets.token_urlsafe(24)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
