"""Cluster settings say what is wrong with a value, and which implementation they ask for."""

from __future__ import annotations

import pytest

from server.cluster import ClusterSettings, LocalCluster, least_loaded, make_cluster
from server.cluster.nodes import NodeInfo


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"redis_url": "http://127.0.0.1:6379"}, "must start with redis://"),
        ({"lease_s": 0.5}, "give 1 to 600 seconds"),
        ({"drain_timeout_s": -1}, "give 0 to 86400"),
        ({"redis_prefix": "a b"}, "without spaces"),
        ({"redis_url": "redis://127.0.0.1", "internal_host": "0.0.0.0"}, "give the address other processes"),
    ],
)
def test_wrong_values_are_refused_with_what_to_do(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ClusterSettings(**kwargs)  # type: ignore[arg-type]


def test_without_redis_the_process_is_the_whole_service() -> None:
    assert isinstance(make_cluster(ClusterSettings()), LocalCluster)
    assert not ClusterSettings().clustered
    assert ClusterSettings(internal_host="::1", internal_port=9000).internal_url() == "http://[::1]:9000"


def test_the_least_loaded_node_that_is_not_draining_takes_a_new_session() -> None:
    nodes = [
        NodeInfo("b", "http://b", load=1),
        NodeInfo("a", "http://a", load=1),
        NodeInfo("c", "http://c", load=0, draining=True),
    ]
    assert least_loaded(nodes) == nodes[1]  # a tie goes to the first id, so every process agrees
    assert least_loaded([nodes[2]]) is None
    assert least_loaded([]) is None
    assert NodeInfo.from_json(nodes[2].to_json()) == nodes[2]
