"""A lock in Redis for work that must run once in the whole service (an export asked on two processes).

The holder's token is the key's value; the holder extends it while the work runs, so a long export
keeps it, and a holder that dies frees it within ``LOCK_TTL_S``. Waiters poll: exports are rare.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from .ownership import EXTEND, RELEASE

LOCK_TTL_S = 30.0
POLL_S = 0.2


@contextlib.asynccontextmanager
async def redis_lock(redis: Any, key: str) -> AsyncIterator[None]:
    token = secrets.token_hex(16)
    ttl_ms = int(LOCK_TTL_S * 1000)
    while not await redis.set(key, token, nx=True, px=ttl_ms):
        await asyncio.sleep(POLL_S)
    extend = redis.register_script(EXTEND)

    async def keep() -> None:
        while True:
            await asyncio.sleep(LOCK_TTL_S / 3)
            await extend(keys=[key], args=[token, ttl_ms])

    keeper = asyncio.ensure_future(keep())
    try:
        yield
    finally:
        keeper.cancel()
        await redis.register_script(RELEASE)(keys=[key], args=[token])
