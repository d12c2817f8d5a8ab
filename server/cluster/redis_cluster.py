"""Several server processes as one service, through Redis (LiveKit's model).

Each process heartbeats its :class:`NodeInfo` every ``lease_s / 4`` under a key that expires after
``lease_s``; a session is held by one process through its owner key (``ownership.py``); the same
loop renews the leases of the sessions this process holds and publishes who is in them, and sweeps
the database for live sessions whose owner's lease ran out, to end them here (their owner died).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .base import ClusterError, ClusterHooks, Placement, no_process_available, owner_gone
from .keys import Keys
from .locks import redis_lock
from .nodes import NodeInfo, least_loaded
from .ownership import Ownership
from .settings import ClusterSettings

logger = logging.getLogger(__name__)


def new_node_id() -> str:
    """Unique per process start: a restarted process must not pass for its dead predecessor."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class RedisCluster:
    def __init__(self, settings: ClusterSettings, redis: Any | None = None) -> None:
        if settings.redis_url is None and redis is None:
            raise ValueError("RedisCluster needs a Redis URL")
        self.settings = settings
        self.node_id = new_node_id()
        self.keys = Keys(settings.redis_prefix)
        self.redis: Any = redis or Redis.from_url(str(settings.redis_url), decode_responses=True)
        self.ownership = Ownership(self.redis, self.keys, self.node_id, settings.lease_s)
        self.lease_ms = int(settings.lease_s * 1000)
        self._draining = False
        self._hooks: ClusterHooks | None = None
        self._loops: list[asyncio.Task[None]] = []

    @property
    def draining(self) -> bool:
        return self._draining

    def _me(self) -> NodeInfo:
        load = len(self._hooks.owned()) if self._hooks else 0
        return NodeInfo(self.node_id, self.settings.internal_url(), load, self._draining, os.getpid())

    async def start(self, hooks: ClusterHooks) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise ClusterError(
                "redis_unreachable",
                f"cannot reach Redis at {self.settings.redis_url}: {exc}; start Redis, or run a single "
                "process without --redis-url",
            ) from None
        self._hooks = hooks
        await self.heartbeat()
        await self.sweep()
        self._loops = [
            asyncio.ensure_future(self._every(self.settings.renew_s, self.heartbeat)),
            asyncio.ensure_future(self._every(self.settings.renew_s, self.sweep)),
        ]
        logger.info("node %s joined the service at %s", self.node_id, self.settings.internal_url())

    async def _every(self, interval_s: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await step()
            except Exception:  # Redis or the database away for a moment: the next round tries again
                logger.exception("node %s: %s failed", self.node_id, step.__name__)

    async def close(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(self.keys.node(self.node_id))
            pipe.srem(self.keys.nodes, self.node_id)
            pipe.zrem(self.keys.load, self.node_id)
            await pipe.execute()
        except (RedisError, OSError):
            logger.warning("node %s could not say goodbye to Redis; its heartbeat expires", self.node_id)
        self._hooks = None
        await self.redis.aclose()

    # --- the loops -------------------------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Say this process is alive (and how loaded), renew the leases of its sessions, publish
        their presence; a lease found in another's hands means this process paused too long."""
        assert self._hooks is not None
        owned = dict(self._hooks.owned())
        me = self._me()
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.node(self.node_id), me.to_json(), px=self.lease_ms)
        pipe.sadd(self.keys.nodes, self.node_id)
        pipe.zadd(self.keys.load, {self.node_id: len(owned)})
        for session_id, presence in owned.items():
            pipe.set(self.keys.presence(session_id), json.dumps(dict(presence)), px=self.lease_ms)
        await pipe.execute()
        for session_id in owned:
            if not await self.ownership.hold(session_id):
                logger.error(
                    "session %s: node %s lost its lease to another process; ending it here",
                    session_id,
                    self.node_id,
                )
                await self._hooks.lost(session_id)

    async def sweep(self) -> None:
        """End the live sessions no process holds any more: their owner died and the lease ran out.
        Taking the owner key first makes one survivor do it, and never for a session still held."""
        assert self._hooks is not None
        owned = self._hooks.owned()
        candidates = [s for s in await self._hooks.live_session_ids() if s not in owned]
        if not candidates:
            return
        owners = await self.redis.mget([self.keys.owner(s) for s in candidates])
        for session_id, owner in zip(candidates, owners, strict=True):
            if owner is not None or not await self.ownership.take_over(session_id):
                continue
            try:
                if await self._hooks.recover(session_id):
                    logger.warning(
                        "session %s: its process stopped; ended here by node %s, recording partial",
                        session_id,
                        self.node_id,
                    )
            finally:
                await self.ownership.release(session_id)

    # --- placing sessions ------------------------------------------------------------------------

    async def nodes(self) -> list[NodeInfo]:
        ids = sorted(await self.redis.smembers(self.keys.nodes))
        if not ids:
            return []
        raws = await self.redis.mget([self.keys.node(i) for i in ids])
        loads = await self.redis.zmscore(self.keys.load, ids)
        found, gone = [], []
        for node_id, raw, load in zip(ids, raws, loads, strict=True):
            if raw is None:
                gone.append(node_id)
                continue
            info = NodeInfo.from_json(raw)
            found.append(NodeInfo(info.node_id, info.internal_url, int(load or 0), info.draining, info.pid))
        if gone:  # heartbeats that expired: forget them
            pipe = self.redis.pipeline(transaction=False)
            pipe.srem(self.keys.nodes, *gone)
            pipe.zrem(self.keys.load, *gone)
            await pipe.execute()
        return found

    async def _node(self, node_id: str) -> NodeInfo | None:
        if node_id == self.node_id:
            return self._me()
        raw = await self.redis.get(self.keys.node(node_id))
        return NodeInfo.from_json(raw) if raw is not None else None

    async def place(self, session_id: str) -> Placement:
        for _ in range(3):
            owner_id = await self.ownership.owner(session_id)
            if owner_id is None:
                chosen = least_loaded(await self.nodes())
                if chosen is None:
                    raise no_process_available()
                owner_id = await self.ownership.claim_for(session_id, chosen.node_id)
                if owner_id is None:
                    continue  # released between the two steps: choose again
            node = await self._node(owner_id)
            if node is None:
                raise owner_gone(self.settings.lease_s)
            return Placement(node, here=owner_id == self.node_id)
        raise owner_gone(self.settings.lease_s)

    async def adopt(self, session_id: str) -> bool:
        if self._draining and await self.ownership.owner(session_id) != self.node_id:
            return False
        return await self.ownership.hold(session_id)

    async def release(self, session_id: str) -> None:
        await self.ownership.release(session_id)
        await self.redis.delete(self.keys.presence(session_id))

    async def owner_elsewhere(self, session_id: str) -> NodeInfo | None:
        owner_id = await self.ownership.owner(session_id)
        if owner_id is None or owner_id == self.node_id:
            return None
        node = await self._node(owner_id)
        if node is None:
            raise owner_gone(self.settings.lease_s)
        return node

    async def presence(self, session_ids: list[str]) -> dict[str, dict[str, str]]:
        if not session_ids:
            return {}
        raws = await self.redis.mget([self.keys.presence(s) for s in session_ids])
        return {s: json.loads(raw) for s, raw in zip(session_ids, raws, strict=True) if raw is not None}

    async def set_draining(self) -> None:
        self._draining = True
        if self._hooks is not None:
            await self.heartbeat()

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        return redis_lock(self.redis, self.keys.lock(name))
