"""A server process as the others see it (its heartbeat), and which one takes a new session."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class NodeInfo:
    """One heartbeat: ``load`` is the sessions the process holds; a ``draining`` one takes no new ones."""

    node_id: str
    internal_url: str
    load: int = 0
    draining: bool = False
    pid: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> NodeInfo:
        data = json.loads(raw)
        return cls(
            node_id=str(data["node_id"]),
            internal_url=str(data["internal_url"]),
            load=int(data.get("load", 0)),
            draining=bool(data.get("draining", False)),
            pid=int(data.get("pid", 0)),
        )


def least_loaded(nodes: Iterable[NodeInfo]) -> NodeInfo | None:
    """The node a new session goes to: the least loaded of those not draining (ties: by id, so every
    process picks the same one for the same view); None when every node drains or there is none."""
    candidates = [n for n in nodes if not n.draining]
    if not candidates:
        return None
    return min(candidates, key=lambda n: (n.load, n.node_id))
