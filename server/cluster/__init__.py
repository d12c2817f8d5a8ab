"""Many server processes as one service: where each session lives, bridging to it, failure and drain.

One process alone needs nothing (:class:`LocalCluster`); several share Redis (:class:`RedisCluster`).
See docs/deploy.md.
"""

from .base import Cluster, ClusterError, ClusterHooks, Placement, Presence
from .local import LocalCluster
from .nodes import NodeInfo, least_loaded
from .settings import ClusterSettings


def make_cluster(settings: ClusterSettings) -> Cluster:
    """The cluster these settings ask for: Redis when they name one, else this process alone."""
    if settings.redis_url is None:
        return LocalCluster(settings)
    from .redis_cluster import RedisCluster

    return RedisCluster(settings)


__all__ = [
    "Cluster",
    "ClusterError",
    "ClusterHooks",
    "ClusterSettings",
    "LocalCluster",
    "NodeInfo",
    "Placement",
    "Presence",
    "least_loaded",
    "make_cluster",
]
