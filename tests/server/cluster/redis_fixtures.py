"""A real Redis (127.0.0.1:6379, as CI runs it) under a key prefix of each test's own, removed after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.cluster_service import REDIS_URL, new_prefix


async def drop_prefix(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest_asyncio.fixture
async def redis_prefix() -> AsyncIterator[str]:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError):
        pytest.fail(f"these tests need Redis at {REDIS_URL} (.ci/run starts it)")
    finally:
        await redis.aclose()
    prefix = new_prefix()
    yield prefix
    await drop_prefix(prefix)
