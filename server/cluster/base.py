"""What a server process needs from the service it is part of, as one interface with two
implementations (as LiveKit's ``localrouter`` and ``redisrouter``): :class:`~.local.LocalCluster`
when the process is the whole service, :class:`~.redis_cluster.RedisCluster` when several share
Redis. The live registry, the ``/ws`` bridge, REST routes and the export jobs use only this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from .nodes import NodeInfo
from .settings import ClusterSettings

Presence = Mapping[str, str]  # role -> joined | reconnecting | left


class ClusterError(Exception):
    """A session cannot be placed right now; ``code`` and ``message`` go back to the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def no_process_available() -> ClusterError:
    return ClusterError(
        "server_draining",
        "no server can take a new session right now (they are restarting); try again in a minute",
    )


def owner_gone(lease_s: float) -> ClusterError:
    return ClusterError(
        "session_unavailable",
        f"the server holding this session stopped; it is ended within {lease_s:g} s, then start a new one",
    )


@dataclass(frozen=True)
class Placement:
    """Where a session lives: ``here`` (this process) or on ``node``, reached at its internal URL."""

    node: NodeInfo
    here: bool


@dataclass(frozen=True)
class ClusterHooks:
    """What the cluster asks of this process's live sessions (the live registry provides them)."""

    # The sessions this process holds, each with its participants' presence.
    owned: Callable[[], Mapping[str, Presence]]
    # This process lost a session's lease (it paused longer than the lease): end it here.
    lost: Callable[[str], Awaitable[None]]
    # The ids of the sessions the database says are live.
    live_session_ids: Callable[[], Awaitable[list[str]]]
    # End a session its dead owner left live (recording ``partial``); False if it had already ended.
    recover: Callable[[str], Awaitable[bool]]


class Cluster(Protocol):
    settings: ClusterSettings
    node_id: str

    @property
    def draining(self) -> bool: ...

    async def start(self, hooks: ClusterHooks) -> None:
        """Join the service; recover the sessions no live process holds (start-up recovery)."""

    async def close(self) -> None:
        """Leave the service (the sessions' leases were released as they ended)."""

    async def place(self, session_id: str) -> Placement:
        """Where a join for ``session_id`` goes: its owner, or (first join) the least-loaded live
        process, chosen atomically, so two joins at once never open it twice. Raises ClusterError."""

    async def adopt(self, session_id: str) -> bool:
        """This process is about to open ``session_id``: hold its lease. False: another process holds
        it (or this one drains and it is new)."""

    async def release(self, session_id: str) -> None:
        """The session ended here (its row already says so): give up its lease."""

    async def owner_elsewhere(self, session_id: str) -> NodeInfo | None:
        """The live process that holds ``session_id`` when it is not this one; else None."""

    async def presence(self, session_ids: list[str]) -> dict[str, dict[str, str]]:
        """What the owners last said about who is in each of ``session_ids`` held elsewhere."""

    async def nodes(self) -> list[NodeInfo]:
        """The live processes of the service."""

    async def set_draining(self) -> None:
        """Take no new sessions from now on (SIGTERM)."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Run a block in one process of the service at a time (an export asked for twice)."""
