"""Pages of a list endpoint: ``?limit=N&cursor=C`` in, ``next_cursor`` (and ``total``) out.

Every list endpoint answers at most ``limit`` items (default 50, at most 200) and, when there are
more, a ``next_cursor`` to ask for the next page with; ``total`` counts them all. The cursor is
opaque to clients (today an offset, signed so a hand-made one is refused with a clear message
rather than silently read).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

from .errors import ApiError

PAGE_PARAMS = ("limit", "cursor")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR_KEY = b"repairsight cursor v1"  # tamper-evidence for offsets, not a secret

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int


def _sign(body: bytes) -> str:
    return hmac.new(_CURSOR_KEY, body, hashlib.sha256).hexdigest()[:16]


def encode_cursor(offset: int) -> str:
    body = json.dumps({"o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(body + b"." + _sign(body).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    refused = ApiError(400, "invalid_cursor", "cursor is not one this server gave; ask again without it")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body, _, mac = raw.rpartition(b".")
        if not hmac.compare_digest(mac.decode(), _sign(body)):
            raise refused
        offset = json.loads(body)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise refused from None
    if not isinstance(offset, int) or offset < 0:
        raise refused
    return offset


def page_request(request: Request) -> PageRequest:
    """``limit`` and ``cursor`` from the query string; 400 with what is allowed otherwise."""
    raw_limit = request.query_params.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(raw_limit)
    cursor = request.query_params.get("cursor")
    return PageRequest(limit, decode_cursor(cursor) if cursor else 0)


def page_fields(page: PageRequest, shown: int, total: int) -> dict[str, Any]:
    """``next_cursor`` (null on the last page) and ``total``, to add beside the page's items."""
    following = page.offset + shown
    return {"next_cursor": encode_cursor(following) if following < total else None, "total": total}


def page_of(items: Sequence[T], page: PageRequest) -> tuple[list[T], dict[str, Any]]:
    """One page of a list already in memory, and its paging fields."""
    chosen = list(items[page.offset : page.offset + page.limit])
    return chosen, page_fields(page, len(chosen), len(items))
