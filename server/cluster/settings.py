"""How the processes of one service find each other: Redis, the session lease, draining, the internal port."""

from __future__ import annotations

from dataclasses import dataclass

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ClusterSettings:
    """``redis_url`` None: this process is the whole service (no Redis, nothing shared live).

    A session's owner renews its lease every ``lease_s / 4``; when the owner dies, a surviving
    process ends the session once the lease has run out (and not sooner), so ``lease_s`` is the
    trade between how soon a cut-off call is closed and how long a stalled process may pause."""

    redis_url: str | None = None
    # Keys start with ``<redis_prefix>:``, so several services (or tests) can share one Redis.
    redis_prefix: str = "repairsight"
    lease_s: float = 10.0
    # After SIGTERM, how long live sessions may go on before they are ended (recordings finalised).
    drain_timeout_s: float = 300.0
    # Where other processes reach this one (bridged /ws, forwarded REST calls).
    internal_host: str = "127.0.0.1"
    internal_port: int = 0
    internal_scheme: str = "http"

    def __post_init__(self) -> None:
        if self.redis_url is not None and not self.redis_url.startswith(REDIS_SCHEMES):
            raise ValueError(
                f"Redis URL {self.redis_url!r}: must start with {', '.join(REDIS_SCHEMES)} "
                "(e.g. redis://127.0.0.1:6379/0)"
            )
        if not 1.0 <= self.lease_s <= 600.0:
            raise ValueError(f"session lease {self.lease_s:g} s: give 1 to 600 seconds")
        if not 0.0 <= self.drain_timeout_s <= 86400.0:
            raise ValueError(f"drain timeout {self.drain_timeout_s:g} s: give 0 to 86400 seconds")
        if not self.redis_prefix or any(c in self.redis_prefix for c in " {}"):
            raise ValueError(f"Redis key prefix {self.redis_prefix!r}: give a word without spaces or braces")
        if self.redis_url is not None and self.internal_host in WILDCARD_HOSTS:
            raise ValueError(
                f"internal host {self.internal_host!r} is a wildcard: give the address other processes "
                "reach this one at (127.0.0.1 on one machine, the machine's private address otherwise)"
            )

    @property
    def clustered(self) -> bool:
        return self.redis_url is not None

    @property
    def renew_s(self) -> float:
        """How often an owner renews its leases and heartbeats (four chances per lease)."""
        return self.lease_s / 4

    def internal_url(self) -> str:
        host = f"[{self.internal_host}]" if ":" in self.internal_host else self.internal_host
        return f"{self.internal_scheme}://{host}:{self.internal_port}"
