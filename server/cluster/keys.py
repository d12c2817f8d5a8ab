"""The Redis keys of one service, all under its prefix (so tests and services can share a Redis).

| key | type, expiry | what |
| --- | --- | --- |
| ``<p>:nodes`` | set | ids of the processes that ever heartbeated (stale ones pruned on read) |
| ``<p>:load`` | sorted set | sessions each node holds: +1 at a claim, reset by each heartbeat |
| ``<p>:node:<id>`` | JSON string, ``lease_s`` | a live process: internal URL, load, draining |
| ``<p>:session:<id>:owner`` | string, ``lease_s`` | the node id that holds the session (its lease) |
| ``<p>:session:<id>:presence`` | JSON string, ``lease_s`` | who is in the session, from its owner |
| ``<p>:lock:<name>`` | string, 30 s, renewed | a job that must run once in the whole service |
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    @property
    def load(self) -> str:
        return f"{self.prefix}:load"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    def owner(self, session_id: str) -> str:
        return f"{self.prefix}:session:{session_id}:owner"

    def presence(self, session_id: str) -> str:
        return f"{self.prefix}:session:{session_id}:presence"

    def lock(self, name: str) -> str:
        return f"{self.prefix}:lock:{name}"
