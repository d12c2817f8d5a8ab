"""Several processes through a real Redis: one owner per session however many join at once, the
least-loaded process takes new ones, a dead owner's sessions are ended by one survivor once the lease
ran out (never sooner, never a live process's), draining, and work that runs once in the service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from server.cluster import ClusterHooks, ClusterSettings
from server.cluster.redis_cluster import RedisCluster

from .redis_fixtures import REDIS_URL, redis_prefix  # noqa: F401 - a fixture

LEASE_S = 1.0  # the shortest allowed: the tests wait on it


@dataclass
class FakeProcess:
    """A server process's live registry as the cluster sees it: sessions held, the database's live ones."""

    live: set[str] = field(default_factory=set)  # shared "database": sessions whose row is live
    owned: dict[str, dict[str, str]] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def hooks(self) -> ClusterHooks:
        async def live_ids() -> list[str]:
            return sorted(self.live)

        async def recover(session_id: str) -> bool:
            if session_id not in self.live:
                return False
            self.live.discard(session_id)
            self.recovered.append(session_id)
            return True

        async def lost(session_id: str) -> None:
            self.lost.append(session_id)
            self.owned.pop(session_id, None)

        return ClusterHooks(owned=lambda: self.owned, lost=lost, live_session_ids=live_ids, recover=recover)


Start = Callable[[FakeProcess], Awaitable[RedisCluster]]


@pytest_asyncio.fixture
async def start_node(redis_prefix: str) -> AsyncIterator[Start]:  # noqa: F811
    started: list[RedisCluster] = []

    async def start(process: FakeProcess) -> RedisCluster:
        settings = ClusterSettings(
            redis_url=REDIS_URL, redis_prefix=redis_prefix, lease_s=LEASE_S, internal_port=9000 + len(started)
        )
        node = RedisCluster(settings)
        await node.start(process.hooks())
        started.append(node)
        return node

    yield start
    for node in started:
        if node._loops:  # not "killed" by the test
            await node.close()


async def kill(node: RedisCluster) -> None:
    """As kill -9: the loops stop, nothing is released or said goodbye."""
    for task in node._loops:
        task.cancel()
    node._loops = []
    await node.redis.aclose()


async def test_two_joins_at_once_on_two_processes_agree_on_one_owner(start_node: Start) -> None:
    a, b = await start_node(FakeProcess()), await start_node(FakeProcess())
    for n in range(5):
        placements = await asyncio.gather(*[node.place(f"s{n}") for node in (a, b, a, b)])
        owners = {p.node.node_id for p in placements}
        assert len(owners) == 1, placements
        here = [p.here for p, node in zip(placements, (a, b, a, b), strict=True)]
        assert here.count(True) == 2  # the owner's own two joins stay there, the others are bridged


async def test_new_sessions_go_to_the_least_loaded_process_and_never_to_a_draining_one(
    start_node: Start,
) -> None:
    a, b = await start_node(FakeProcess()), await start_node(FakeProcess())
    first = await a.place("s1")
    second = await a.place("s2")  # the claim counted at once: the other process takes the next one
    assert first.node.node_id != second.node.node_id
    await b.set_draining()
    for n in range(3, 6):
        assert (await b.place(f"s{n}")).node.node_id == a.node_id
    assert not await b.adopt("s9")  # a draining process opens no new session...
    b_owned = first if first.node.node_id == b.node_id else second
    session = "s1" if b_owned is first else "s2"
    assert await b.adopt(session)  # ...but one placed on it before goes on
    assert [n.draining for n in await a.nodes() if n.node_id == b.node_id] == [True]


async def test_a_dead_owners_session_is_ended_by_one_survivor_after_the_lease_and_no_other(
    start_node: Start,
) -> None:
    database: set[str] = set()
    dying = FakeProcess(live=database)
    survivors = [FakeProcess(live=database), FakeProcess(live=database)]
    a = await start_node(dying)
    b, c = await start_node(survivors[0]), await start_node(survivors[1])
    assert await a.adopt("theirs")
    dying.owned["theirs"] = {"customer": "joined", "expert": "joined"}
    assert await b.adopt("mine")
    survivors[0].owned["mine"] = {"customer": "joined", "expert": "left"}
    database |= {"theirs", "mine"}  # the joins made the rows live
    await a.heartbeat()
    await b.heartbeat()
    assert (await c.presence(["theirs", "mine", "none"])) == {
        "theirs": {"customer": "joined", "expert": "joined"},
        "mine": {"customer": "joined", "expert": "left"},
    }
    await kill(a)
    killed_at = time.monotonic()
    for node in (b, c):
        await node.sweep()
    assert survivors[0].recovered == survivors[1].recovered == []  # the lease still runs
    while time.monotonic() - killed_at < LEASE_S * 3 and "theirs" in database:
        await asyncio.sleep(0.05)
    assert "theirs" not in database, "the dead owner's session was not ended within the lease"
    assert time.monotonic() - killed_at >= LEASE_S * 0.5  # the lease was last renewed <= lease/4 before
    assert sorted(survivors[0].recovered + survivors[1].recovered) == ["theirs"]  # once
    assert "mine" in database and survivors[0].lost == []
    assert a.node_id not in {n.node_id for n in await b.nodes()}


async def test_a_process_that_lost_its_lease_ends_the_session_itself(start_node: Start) -> None:
    process = FakeProcess()
    a = await start_node(process)
    other = await start_node(FakeProcess())
    assert await a.adopt("s1")
    process.owned["s1"] = {"customer": "joined", "expert": "joined"}
    await a.redis.set(a.keys.owner("s1"), other.node_id)  # as if a survivor took it over
    await a.heartbeat()
    assert process.lost == ["s1"]


async def test_work_asked_on_two_processes_runs_once_at_a_time(start_node: Start) -> None:
    a, b = await start_node(FakeProcess()), await start_node(FakeProcess())
    inside: list[str] = []
    overlaps: list[int] = []

    async def work(node: RedisCluster, name: str) -> None:
        async with node.exclusive("export:s1"):
            inside.append(name)
            overlaps.append(len(inside))
            await asyncio.sleep(0.3)
            inside.remove(name)

    await asyncio.gather(work(a, "a"), work(b, "b"))
    assert overlaps == [1, 1]


async def test_start_up_recovery_leaves_a_live_processs_sessions_alone(start_node: Start) -> None:
    database: set[str] = set()
    holder = FakeProcess(live=database)
    a = await start_node(holder)
    assert await a.adopt("held")
    holder.owned["held"] = {"customer": "joined", "expert": "joined"}
    database |= {"held", "orphan"}  # "orphan": live, its process gone before this test's time
    newcomer = FakeProcess(live=database)
    await start_node(newcomer)  # start() sweeps before serving
    assert newcomer.recovered == ["orphan"]
    assert database == {"held"}


async def test_redis_that_cannot_be_reached_is_named() -> None:
    node = RedisCluster(ClusterSettings(redis_url="redis://127.0.0.1:1/0"))
    with pytest.raises(Exception, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        await node.start(FakeProcess().hooks())
    await node.redis.aclose()
