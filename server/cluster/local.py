"""The service is this one process: no Redis, every session is here (the default, as before)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from .base import ClusterHooks, Placement
from .nodes import NodeInfo
from .settings import ClusterSettings

LOCAL_NODE_ID = "local"


class LocalCluster:
    def __init__(self, settings: ClusterSettings | None = None) -> None:
        self.settings = settings or ClusterSettings()
        self.node_id = LOCAL_NODE_ID
        self._draining = False
        self._hooks: ClusterHooks | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def draining(self) -> bool:
        return self._draining

    def _node(self) -> NodeInfo:
        load = len(self._hooks.owned()) if self._hooks else 0
        return NodeInfo(self.node_id, self.settings.internal_url(), load, self._draining, os.getpid())

    async def start(self, hooks: ClusterHooks) -> None:
        """Every session the database says is live was cut off by this process's predecessor."""
        self._hooks = hooks
        for session_id in await hooks.live_session_ids():
            if session_id not in hooks.owned():
                await hooks.recover(session_id)

    async def close(self) -> None:
        self._hooks = None

    async def place(self, session_id: str) -> Placement:
        return Placement(self._node(), here=True)

    async def adopt(self, session_id: str) -> bool:
        return not self._draining

    async def release(self, session_id: str) -> None:
        return None

    async def owner_elsewhere(self, session_id: str) -> NodeInfo | None:
        return None

    async def presence(self, session_ids: list[str]) -> dict[str, dict[str, str]]:
        return {}

    async def nodes(self) -> list[NodeInfo]:
        return [self._node()]

    async def set_draining(self) -> None:
        self._draining = True

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        return self._exclusive(name)

    @contextlib.asynccontextmanager
    async def _exclusive(self, name: str) -> AsyncIterator[None]:
        # Kept once made: a lock dropped while a waiter holds it would let a newcomer in beside it.
        async with self._locks.setdefault(name, asyncio.Lock()):
            yield
