"""Real server processes sharing a database, Redis and a recordings folder, with real aiortc peers:
a call whose customer and expert join through different processes (on PostgreSQL, as a service of
several processes runs), the owner killed (-9) mid-call,
a process drained with SIGTERM, and ``serve --workers 2`` on one port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from tests.cluster_service import Service
from tests.server.databases import postgres_database
from tests.server_process import ServerProcess
from tests.synthetic_peers import board_camera, wait_for
from tests.ws_participants import Participant, join_as_customer, join_as_expert, link_token, new_session

LEASE_S = 3.0
RENEW_S = LEASE_S / 4
DRAIN_TIMEOUT_S = 6.0

pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with postgres_database() as database_url:
        found = Service(tmp_path, database_url, lease_s=LEASE_S)
        try:
            yield found
        finally:
            found.close()


def frames() -> list[Any]:
    return [f.bgr for f in board_camera(num_frames=30).frames()]


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def by_pid(processes: list[ServerProcess], pid: int) -> ServerProcess:
    return next(p for p in processes if p.process.pid == pid)


async def start_call(
    service: Service, customer_via: ServerProcess, expert_via: ServerProcess
) -> tuple[dict[str, Any], Participant, Participant]:
    session = new_session(customer_via.base_url, service.api_token)
    customer = await join_as_customer(customer_via.base_url, link_token(session), frames())
    expert = await join_as_expert(expert_via.base_url, session["id"], service.api_token)
    await wait_for(lambda: len(expert.peer.received.arrivals) > 10, 20, "the clip's video at the expert")
    return session, customer, expert


async def frames_keep_coming(participant: Participant, seconds: float = 1.5) -> None:
    before = len(participant.peer.received.arrivals)
    await asyncio.sleep(seconds)
    assert len(participant.peer.received.arrivals) > before + 10, "the video stopped"


def test_customer_through_one_process_expert_through_the_other(service: Service, tmp_path: Path) -> None:
    a, b = service.start(), service.start()

    async def call() -> dict[str, Any]:
        session, customer, expert = await start_call(service, a, b)
        numbers = [n for n, _ in expert.peer.received.arrivals]
        assert numbers == sorted(numbers) and len(set(numbers)) > 10  # the clip's own frames, in order
        await customer.socket.send(json.dumps({"type": "chat", "text": "it makes a clicking noise"}))
        heard = await expert.next_of("chat")
        assert (heard["from_role"], heard["text"]) == ("customer", "it makes a clicking noise")
        assert (await customer.next_of("chat"))["from_role"] == "customer"  # its own echo
        await expert.socket.send(json.dumps({"type": "chat", "text": "hold it closer"}))
        heard = await customer.next_of("chat")
        assert (heard["from_role"], heard["text"]) == ("expert", "hold it closer")
        await asyncio.sleep(2)
        non_owner = b if service.owner_pid(session["id"]) == a.process.pid else a
        with service.api(non_owner) as client:  # ended through the process that does not hold it
            ended = client.post(f"/api/sessions/{session['id']}/end", json={"reason": "fixed"})
            assert ended.status_code == 200, ended.text
        ended_message = await customer.next_of("session_ended")
        assert ended_message["reason"] == "fixed"
        for participant in (customer, expert):
            await participant.close()
        return session

    session = asyncio.run(call())
    assert "bridged" in a.log() + b.log()
    with service.api(b) as client:
        recording = client.get(f"/api/sessions/{session['id']}/recording").json()
        assert recording["status"] == "complete", recording
        media = client.get(recording["media_url"])
    path = tmp_path / "recording.webm"
    path.write_bytes(media.content)
    assert decoded_frames(path) > 30


def test_the_owner_killed_mid_call_is_ended_by_the_other_after_the_lease(
    service: Service, tmp_path: Path
) -> None:
    a, b = service.start(), service.start()

    async def calls() -> None:
        first, *first_peers = await start_call(service, a, b)
        owner = by_pid([a, b], service.owner_pid(first["id"]))
        survivor = b if owner is a else a
        second, *second_peers = await start_call(service, survivor, survivor)
        assert service.owner_pid(second["id"]) == survivor.process.pid  # the least loaded took it
        await asyncio.sleep(3)
        owner.kill()
        killed_at = time.monotonic()
        with service.api(survivor) as client:
            state = ""
            while state != "ended" and time.monotonic() - killed_at < LEASE_S + RENEW_S + 5:
                state = client.get(f"/api/sessions/{first['id']}").json()["state"]
                await asyncio.sleep(0.2)
            took_s = time.monotonic() - killed_at
            print(f"the killed owner's session was ended {took_s:.1f} s after the kill (lease {LEASE_S} s)")
            assert state == "ended"
            assert took_s <= LEASE_S + RENEW_S + 2
            recording = client.get(f"/api/sessions/{first['id']}/recording").json()
            assert recording["status"] == "partial", recording
            media = client.get(recording["media_url"])
            assert client.get(f"/api/sessions/{second['id']}").json()["state"] == "live"
        path = tmp_path / "partial.webm"
        path.write_bytes(media.content)
        assert decoded_frames(path) > 30
        await frames_keep_coming(second_peers[1])  # the survivor's own call went on
        for participant in [*first_peers, *second_peers]:
            await participant.close()

    asyncio.run(calls())


def test_sigterm_drains_then_ends_cleanly_at_the_timeout(service: Service, tmp_path: Path) -> None:
    drain = ("--drain-timeout", str(DRAIN_TIMEOUT_S))
    a, b = service.start(*drain), service.start(*drain)

    async def drained() -> dict[str, Any]:
        session, customer, expert = await start_call(service, a, a)
        owner = by_pid([a, b], service.owner_pid(session["id"]))
        other = b if owner is a else a
        owner.process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        await wait_for(lambda: any(n["draining"] for n in service.nodes()), 5, "the owner says it drains")
        later, *later_peers = await start_call(service, owner, owner)  # asked of the draining one
        assert service.owner_pid(later["id"]) == other.process.pid
        await frames_keep_coming(expert)  # the live call goes on while draining
        # The new call, placed on the other process, works meanwhile. (Its sockets came in through
        # the draining process, which bridges them only until it exits; a load balancer stops
        # sending new sockets to a process once its /readyz says it drains.)
        await frames_keep_coming(later_peers[1])
        ended = await customer.next_of("session_ended", timeout_s=DRAIN_TIMEOUT_S + 10)
        assert time.monotonic() - signalled_at >= DRAIN_TIMEOUT_S - 1
        print(f"drained call ended: {ended['reason']}")
        owner.process.wait(timeout=20)
        for participant in (customer, expert, *later_peers):
            await participant.close()
        return session

    session = asyncio.run(drained())
    survivor = next(p for p in (a, b) if p.process.poll() is None)
    with service.api(survivor) as client:
        recording = client.get(f"/api/sessions/{session['id']}/recording").json()
        assert recording["status"] == "complete", recording
        path = tmp_path / "drained.webm"
        path.write_bytes(client.get(recording["media_url"]).content)
    assert decoded_frames(path) > 30


def test_serve_workers_2_is_one_port_and_two_processes(service: Service) -> None:
    server = service.start("--workers", "2", "--drain-timeout", "1")
    wait_until = time.monotonic() + 20
    while len(service.nodes()) < 2 and time.monotonic() < wait_until:
        time.sleep(0.2)
    nodes = service.nodes()
    assert len(nodes) == 2 and len({n["pid"] for n in nodes}) == 2, nodes

    async def two_calls() -> None:
        first, *first_peers = await start_call(service, server, server)
        second, *second_peers = await start_call(service, server, server)
        assert service.owner_pid(first["id"]) != service.owner_pid(second["id"])  # spread over both
        for participant in [*first_peers, *second_peers]:
            await participant.close()

    asyncio.run(two_calls())
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert all(not os.path.exists(f"/proc/{n['pid']}") for n in nodes)
