"""One process alone: every live session at start-up was its predecessor's; draining refuses new ones."""

from __future__ import annotations

from server.cluster import LocalCluster

from .test_redis_cluster import FakeProcess


async def test_start_up_recovers_every_live_session_and_drain_refuses_new_ones() -> None:
    process = FakeProcess(live={"s1", "s2"})
    cluster = LocalCluster()
    await cluster.start(process.hooks())
    assert process.recovered == ["s1", "s2"]
    assert (await cluster.place("s3")).here
    assert await cluster.adopt("s3")
    await cluster.set_draining()
    assert not await cluster.adopt("s4")
    await cluster.close()
