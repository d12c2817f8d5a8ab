"""Fuzz run: ``/ws`` and the REST API of a real server process, for ``--minutes M`` (issue 15).

A fresh data folder, an admin and an expert with an API token each, then ``repairsight serve`` as a
subprocess. Phases of ``--phase-seconds`` alternate until the time is up:

* ``/ws``: ``--pairs`` sessions at a time, each made through the API, its customer joined with its
  link token and its expert with a bearer token, over real sockets (the ``websockets`` client).
  The customer's page first sends a real browser offer (so candidates after the answer reach
  aiortc); then both sockets get the frames of the CI fuzz test (``tests/server/web/test_fuzz.py``:
  garbage, every client message with a field mutated, nesting and numbers past the JSON limits,
  mutated offers and candidates), plus random binary frames, mutated joins on fresh sockets, frames
  over 64 KiB and chat floods (sent without waiting). After every few frames a ``ping`` must get its
  ``pong`` within 10 s. A session ends (the expert's ``end_session``) after ``--frames-per-session``.
* REST: schemathesis (4.x, as ``tests/server/web/test_openapi_schemathesis.py`` drives it) on every
  operation of ``/api/v1/openapi.json``: valid and invalid requests, with real ids and generated
  ones, signed out, as the admin's token, the expert's token and the expert's cookie.

Counted: frames and requests sent, 5xx answers, ``error`` messages with code ``internal``, socket
closes by code (1011 is the server failing), crashes (the server process gone: it is restarted on
the same data), hangs (a request, a ``pong`` or a ``/healthz`` probe, once a second all along, not
answered within 10 s). The server's RSS (its main process, and its process tree with the media
workers) is sampled at the start, every 30 s and at the end. One table is printed at the end.

``--memory-probe`` (on by default) starts the server with ``benchmarks/memory_probe/sitecustomize.py``
and ``PYTHONTRACEMALLOC=1``: at start, every 30 s and at the end the server reports where its memory
is (RSS anonymous and file-backed, glibc's heap in use and free, arenas, what Python's allocations
trace), and at the end glibc's ``malloc_trim`` shows what was free but kept. The second table
splits the growth, and the list after it the largest Python allocation sites that grew.
Tracing costs the server CPU: ``--no-memory-probe`` for the throughput of an untraced server.

    ./run fuzz [--minutes 10] [--phase-seconds 30] [--pairs 6] [--no-memory-probe]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from benchmarks.cores import process_tree, tree_rss_mb  # noqa: E402
from signaling.messages import PROTOCOL_VERSION  # noqa: E402
from tests.offers import browser_offer  # noqa: E402
from tests.server.web.test_fuzz import frames, json_values  # noqa: E402
from tests.server_process import REPO, ServerProcess, add_user, cli, start_server  # noqa: E402

HANG_S = 10.0
SAMPLE_EVERY_S = 30.0
PING_EVERY_FRAMES = 8
PROBE_DIR = Path(__file__).resolve().parent / "memory_probe"
ADMIN, EXPERT = ("ada", "an admin's long password"), ("erin", "an expert's long password")
# Kept out of the REST fuzzing: it would disable the accounts the run signs in with.
SKIPPED_OPERATIONS = {"POST /api/v1/users/{user_id}/disable"}


@dataclass
class Tally:
    ws_frames: int = 0
    ws_sessions: int = 0
    ws_sockets: int = 0
    ws_internal_errors: int = 0
    ws_closes: Counter[int] = field(default_factory=Counter)
    ws_hangs: int = 0
    rest_requests: int = 0
    rest_statuses: Counter[int] = field(default_factory=Counter)
    rest_5xx: list[str] = field(default_factory=list)
    rest_hangs: int = 0
    health_probes: int = 0
    health_hangs: int = 0
    crashes: int = 0
    rss: list[tuple[float, float, float]] = field(default_factory=list)  # (s, main MB, tree MB)
    hang_notes: list[str] = field(default_factory=list)
    error_closes: list[str] = field(default_factory=list)  # the last frame sent before each 1011
    error_reasons: Counter[str] = field(default_factory=Counter)  # the reasons of the 1011 closes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hang(self, kind: str, what: str) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            if len(self.hang_notes) < 20:
                self.hang_notes.append(what)


class Server:
    """The server process, restarted on the same data after a crash (which is counted)."""

    def __init__(self, root: Path, memory_probe: bool) -> None:
        self.root = root
        self.data_dir = root / "data"
        add_user(self.data_dir, ADMIN[0], "admin", ADMIN[1])
        add_user(self.data_dir, EXPERT[0], "expert", EXPERT[1])
        self.admin_token = cli(self.data_dir, "token", "create", "--user", ADMIN[0]).strip()
        self.expert_token = cli(self.data_dir, "token", "create", "--user", EXPERT[0]).strip()
        self.env: dict[str, str] = {}
        self.probe_dir: Path | None = None
        if memory_probe:
            self.probe_dir = root / "probe"
            self.probe_dir.mkdir()
            self.env = {
                "PYTHONPATH": os.pathsep.join([str(PROBE_DIR), str(REPO)]),
                "PYTHONTRACEMALLOC": "1",
                "REPAIRSIGHT_MEMORY_PROBE": str(self.probe_dir),
            }
        self.process: ServerProcess = start_server(self.data_dir, env=self.env)
        self.probes: dict[int, int] = {}  # reports asked of each process

    @property
    def base_url(self) -> str:
        return self.process.base_url

    @property
    def pid(self) -> int:
        return self.process.process.pid

    def gone(self) -> bool:
        return self.process.process.poll() is not None

    def restart(self) -> None:
        port = int(self.base_url.rsplit(":", 1)[1])
        self.process = start_server(self.data_dir, port=port, env=self.env)

    def probe(self, trim: bool = False) -> dict[int, dict[str, Any]]:
        """The memory probe's report of each process of the server's tree that has the probe (the
        main process and its media workers), by pid; ``trim``: then ``malloc_trim``."""
        if self.probe_dir is None or self.gone():
            return {}
        asked: dict[int, Path] = {}
        for pid in process_tree(self.pid):
            if not catches_sigusr(pid):
                continue  # not a Python process of ours, or one still starting
            self.probes[pid] = self.probes.get(pid, 0) + 1
            os.kill(pid, signal.SIGUSR2 if trim else signal.SIGUSR1)
            asked[pid] = self.probe_dir / f"probe-{pid}-{self.probes[pid]}.json"
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in asked.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        reports = {}
        for pid, path in asked.items():
            if path.exists():
                reports[pid] = json.loads(path.read_text()) | {"n": self.probes[pid], "pid": pid}
        return reports

    def snapshot(self, pid: int, n: int) -> Path | None:
        assert self.probe_dir is not None
        path = self.probe_dir / f"snapshot-{pid}-{n}.tracemalloc"
        return path if path.exists() else None


def catches_sigusr(pid: int) -> bool:
    """Whether ``pid`` has a handler for SIGUSR1 (the probe's): the default action would kill it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), 0)
    return bool(caught & (1 << (signal.SIGUSR1 - 1)))


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) / 1024


class Watch(threading.Thread):
    """All along the run: ``/healthz`` once a second (a hang: no answer in 10 s), a crash check, and
    the RSS (and the probe's report) every 30 s."""

    def __init__(self, server: Server, tally: Tally, started: float) -> None:
        super().__init__(daemon=True)
        self.server, self.tally, self.started = server, tally, started
        self.stopping = threading.Event()
        self.reports: list[dict[int, dict[str, Any]]] = []
        self.restart_lock = threading.Lock()
        self.sampler = threading.Thread(target=self._sample_all_along, daemon=True)

    def sample(self) -> None:
        pid = self.server.pid
        self.tally.rss.append((time.monotonic() - self.started, rss_mb(pid), tree_rss_mb(pid)))

    def check_crash(self) -> None:
        with self.restart_lock:
            if self.server.gone():
                with self.tally.lock:
                    self.tally.crashes += 1
                print(
                    f"the server exited with {self.server.process.process.returncode}: restarting", flush=True
                )
                print(self.server.process.log()[-3000:], flush=True)
                self.server.restart()

    def run(self) -> None:
        self.sampler.start()
        while not self.stopping.wait(1.0):
            self.check_crash()
            try:
                httpx.get(self.server.base_url + "/healthz", timeout=HANG_S)
            except httpx.TimeoutException:
                self.tally.hang("health_hangs", "/healthz")
            except httpx.HTTPError:
                pass
            self.tally.health_probes += 1

    def _sample_all_along(self) -> None:
        while not self.stopping.wait(SAMPLE_EVERY_S):
            self.sample()
            self.reports.append(self.server.probe())

    def finish(self) -> None:
        self.stopping.set()
        self.join(timeout=HANG_S + 2)
        self.sampler.join(timeout=70)


# --- /ws ----------------------------------------------------------------------------------------


@st.composite
def mutated_joins(draw: st.DrawFn) -> str:
    """A ``join`` with a field replaced, dropped or added (the CI test's mutations of the others)."""
    message: dict[str, Any] = {
        "type": "join",
        "version": PROTOCOL_VERSION,
        "role": draw(st.sampled_from(["customer", "expert"])),
        "token": "x" * 20,
        "session_id": "s" * 20,
        "consent": False,
        "client": {"user_agent": "fuzz"},
        "resume": "r" * 20,
    }
    name = draw(st.sampled_from([*message, "extra"]))
    if draw(st.booleans()):
        message.pop(name, None)
    else:
        message[name] = draw(json_values)
    return json.dumps(message)


def pool_of(strategy: st.SearchStrategy[Any], size: int, rng: random.Random) -> list[Any]:
    """``size`` examples of ``strategy``, drawn as hypothesis draws them in a test."""
    pool: list[Any] = []

    @seed(rng.getrandbits(64))
    @settings(max_examples=size, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(strategy)
    def collect(example: Any) -> None:
        pool.append(example)

    collect()
    return pool


class Peer:
    """One socket of the fuzzer: reads everything the server sends, so it is never dropped as slow."""

    def __init__(self, ws: Any, tally: Tally) -> None:
        self.ws, self.tally = ws, tally
        self.kinds: list[str] = []  # the types of the messages since the last wait began
        self.arrived = asyncio.Event()
        self.closed: int | None = None
        self.joined: dict[str, Any] = {}
        self.last_sent: str | bytes = b""
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                try:
                    message = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                if message.get("type") == "error" and message.get("code") == "internal":
                    self.tally.ws_internal_errors += 1
                if message.get("type") == "joined":
                    self.joined = message
                if len(self.kinds) < 1000:
                    self.kinds.append(str(message.get("type")))
                self.arrived.set()
        except ConnectionClosed:
            pass
        self.closed = self.ws.close_code if self.ws.close_code is not None else 1006
        self.tally.ws_closes[self.closed] += 1
        if self.closed == 1011:
            # uvicorn's keepalive closes with 1011 too ("keepalive ping timeout"): a pong later
            # than the server's --ws-ping-timeout, when either side's event loop stalled.
            self.tally.error_reasons[self.ws.close_reason or ""] += 1
            if len(self.tally.error_closes) < 20:
                self.tally.error_closes.append(repr(self.last_sent)[:300])
        self.arrived.set()

    async def send(self, frame: str | bytes) -> bool:
        from websockets.exceptions import ConnectionClosed

        if self.closed is not None:
            return False
        self.last_sent = frame
        try:
            await asyncio.wait_for(self.ws.send(frame), HANG_S)
        except ConnectionClosed:
            return False
        except TimeoutError:
            self.tally.hang("ws_hangs", "a frame not taken in 10 s")
            return False
        self.tally.ws_frames += 1
        return True

    async def answered(self, frame: str | bytes, wanted: set[str], what: str) -> set[str]:
        """Send ``frame``; the ``wanted`` types of the messages that came back before one of them
        did, within 10 s (nothing: a hang, counted, or the socket closed)."""
        self.kinds.clear()
        self.arrived.clear()
        if not await self.send(frame):
            return set()
        deadline = time.monotonic() + HANG_S
        while self.closed is None and not wanted.intersection(self.kinds):
            try:
                await asyncio.wait_for(self.arrived.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self.tally.hang("ws_hangs", f"no {'/'.join(sorted(wanted))} in 10 s after {what[:120]!r}")
                return set()
            self.arrived.clear()
        return wanted.intersection(self.kinds) if self.closed is None else set()

    async def answers_ping(self, what: str) -> bool:
        return bool(await self.answered(json.dumps({"type": "ping"}), {"pong"}, what))

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self.reader, HANG_S)


class WsFuzzer:
    def __init__(self, server: Server, tally: Tally, frames_per_session: int, rng: random.Random) -> None:
        self.server, self.tally, self.rng = server, tally, rng
        self.frames_per_session = frames_per_session
        self.pool: list[str] = []
        self.joins: list[str] = []
        self.binaries: list[bytes] = []
        self.offer = ""

    def refill(self) -> None:
        self.pool = pool_of(frames, 1500, self.rng)
        self.joins = pool_of(mutated_joins(), 200, self.rng)
        self.binaries = pool_of(st.binary(max_size=300), 100, self.rng)
        self.offer = json.dumps({"type": "offer", "sdp": browser_offer()})

    async def connect(self, headers: dict[str, str]) -> Peer:
        from websockets.asyncio.client import connect

        url = self.server.base_url.replace("http", "ws", 1) + "/ws"
        ws = await connect(
            url, additional_headers=headers, max_size=None, open_timeout=HANG_S, ping_interval=None
        )
        self.tally.ws_sockets += 1
        peer = Peer(ws, self.tally)
        # Some fresh sockets first get a mutated join: answered with an error, or closed.
        if self.rng.random() < 0.3:
            frame = self.rng.choice(self.joins)
            if not await peer.answered(frame, {"error", "joined"}, frame):
                await peer.close()
                ws = await connect(
                    url, additional_headers=headers, max_size=None, open_timeout=HANG_S, ping_interval=None
                )
                self.tally.ws_sockets += 1
                peer = Peer(ws, self.tally)
        return peer

    async def join(self, peer: Peer, message: dict[str, Any]) -> bool:
        frame = json.dumps({"version": PROTOCOL_VERSION, **message})
        return "joined" in await peer.answered(frame, {"joined", "error"}, frame)

    async def one_session(self, api: httpx.AsyncClient) -> None:
        case = (await rest(api, self.tally, "POST", "/api/v1/cases", json={"title": "Fuzzed"})).json()
        made = (await rest(api, self.tally, "POST", f"/api/v1/cases/{case['id']}/sessions")).json()
        token = made["customer_url"].rsplit("/", 1)[1]
        expert_auth = {"Authorization": f"Bearer {self.server.expert_token}"}
        customer = await self.connect({})
        expert = await self.connect(expert_auth)
        peers = {"customer": customer, "expert": expert}
        self.tally.ws_sessions += 1
        try:
            if not await self.join(
                customer, {"type": "join", "role": "customer", "token": token, "consent": True}
            ):
                return
            if not await self.join(expert, {"type": "join", "role": "expert", "session_id": made["id"]}):
                return
            resume = customer.joined.get("resume")
            await customer.send(self.offer)
            sent = 0
            frame: str | bytes
            while sent < self.frames_per_session:
                who = self.rng.choice(["customer", "expert"])
                peer = peers[who]
                roll = self.rng.random()
                if roll < 0.02:  # a chat flood, nothing read in between
                    frame = json.dumps({"type": "chat", "text": "x" * 2000})
                    for _ in range(200):
                        await peer.send(frame)
                    sent += 200
                elif roll < 0.03:  # past the size limit: closed with 1009, the session goes on
                    frame = json.dumps({"type": "chat", "text": "x" * 70_000})
                    await peer.send(frame)
                    sent += 1
                elif roll < 0.10:
                    frame = self.rng.choice(self.binaries)
                    await peer.send(frame)
                    sent += 1
                else:
                    frame = self.rng.choice(self.pool)
                    await peer.send(frame)
                    sent += 1
                if sent % PING_EVERY_FRAMES == 0 or peer.closed is not None:
                    if not await peer.answers_ping(str(frame)):
                        if peer.closed is None:
                            return  # a hang, counted
                        # Closed (1009 after the oversized frame, for one): come back, as a page does.
                        peer = peers[who] = await self.connect(expert_auth if who == "expert" else {})
                        again = (
                            {"type": "join", "role": "expert", "session_id": made["id"]}
                            if who == "expert"
                            else {
                                "type": "join",
                                "role": "customer",
                                "token": token,
                                "consent": True,
                                "resume": resume,
                            }
                        )
                        if not await self.join(peer, again):
                            return
            await peers["expert"].send(json.dumps({"type": "end_session"}))
        finally:
            for peer in peers.values():
                try:
                    await peer.close()
                except Exception:  # noqa: BLE001 - a socket the server dropped, or a reader that hung
                    pass
            await rest(api, self.tally, "POST", f"/api/v1/sessions/{made['id']}/end")

    async def phase(self, deadline: float, pairs: int) -> None:
        async with httpx.AsyncClient(
            base_url=self.server.base_url,
            headers={"Authorization": f"Bearer {self.server.admin_token}"},
            timeout=HANG_S,
        ) as api:

            async def worker() -> None:
                while time.monotonic() < deadline:
                    try:
                        await self.one_session(api)
                    except (OSError, httpx.HTTPError, TimeoutError, KeyError, ValueError) as exc:
                        print(f"  a session stopped early: {exc!r}", flush=True)
                        await asyncio.sleep(1)

            await asyncio.gather(*(worker() for _ in range(pairs)))


async def rest(api: httpx.AsyncClient, tally: Tally, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request of the ``/ws`` phase's own (making and ending sessions), counted as REST."""
    try:
        answer = await api.request(method, path, **kwargs)
    except httpx.TimeoutException:
        tally.hang("rest_hangs", f"{method} {path}")
        raise
    tally.rest_requests += 1
    tally.rest_statuses[answer.status_code] += 1
    if answer.status_code >= 500:
        tally.rest_5xx.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
    return answer


# --- REST ---------------------------------------------------------------------------------------


class RestFuzzer:
    def __init__(self, server: Server, tally: Tally, rng: random.Random) -> None:
        self.server, self.tally, self.rng = server, tally, rng

    def credentials(self, client: httpx.Client) -> dict[str, dict[str, str]]:
        """Each kind of caller: signed out, two API tokens, and a signed-in page's cookie (its
        ``Origin`` the site's own, as the page's requests have it)."""
        signed_in = httpx.Client(base_url=self.server.base_url, timeout=HANG_S)
        signed_in.post("/api/v1/login", json={"username": EXPERT[0], "password": EXPERT[1]})
        cookie = "; ".join(f"{name}={value}" for name, value in signed_in.cookies.items())
        signed_in.close()
        return {
            "signed out": {},
            "admin token": {"Authorization": f"Bearer {self.server.admin_token}"},
            "expert token": {"Authorization": f"Bearer {self.server.expert_token}"},
            "expert cookie": {"Cookie": cookie, "Origin": self.server.base_url},
        }

    def real_ids(self, client: httpx.Client) -> dict[str, str]:
        case = client.post("/api/v1/cases", json={"title": "REST fuzzed"}).json()
        made = client.post(f"/api/v1/cases/{case['id']}/sessions").json()
        users = client.get("/api/v1/users").json()
        expert = next(user for user in users["users"] if user["username"] == EXPERT[0])
        sign_ins = client.get("/api/v1/sign-ins").json()["sign_ins"]
        return {
            "case_id": case["id"],
            "session_id": made["id"],
            "user_id": expert["id"],
            "token": made["customer_url"].rsplit("/", 1)[1],
            "procedure_id": "board-connector-reseat",
            **({"sign_in_id": sign_ins[0]["id"]} if sign_ins else {}),
        }

    def phase(self, deadline: float) -> None:
        import requests
        import schemathesis
        from schemathesis import GenerationMode

        with httpx.Client(
            base_url=self.server.base_url,
            headers={"Authorization": f"Bearer {self.server.admin_token}"},
            timeout=HANG_S,
        ) as client:
            document = client.get("/api/v1/openapi.json").json()
            credentials = self.credentials(client)
            ids = self.real_ids(client)
        schema = schemathesis.openapi.from_dict(document)
        operations = [
            (method.upper(), path)
            for path, methods in document["paths"].items()
            for method in methods
            if method in {"get", "post", "put", "patch", "delete"}
            and f"{method.upper()} {path}" not in SKIPPED_OPERATIONS
        ]
        session = requests.Session()
        while time.monotonic() < deadline:
            method, path = self.rng.choice(operations)
            operation = schema[path][method]
            names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
            kind = self.rng.choice(["valid", "real ids", "invalid"] if names else ["valid", "invalid"])
            if kind == "real ids":
                real = {name: ids.get(name, "none-such") for name in names}
                strategy = operation.as_strategy(path_parameters=real)
            elif kind == "invalid":
                strategy = operation.as_strategy(GenerationMode.NEGATIVE)
            else:
                strategy = operation.as_strategy()
            who = self.rng.choice(sorted(credentials))
            self.run_examples(strategy, credentials[who], session, f"{method} {path} ({who})", deadline)

    def run_examples(
        self, strategy: Any, headers: dict[str, str], session: Any, what: str, deadline: float
    ) -> None:
        import requests

        @seed(self.rng.getrandbits(64))
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=strategy)
        def send(case: Any) -> None:
            if time.monotonic() >= deadline:
                return
            try:
                answer = case.call(
                    base_url=self.server.base_url, session=session, headers=headers, timeout=HANG_S
                )
            except requests.Timeout:
                self.tally.hang("rest_hangs", what)
                return
            except requests.ConnectionError:
                return  # a crash: the watch counts it and restarts the server
            with self.tally.lock:
                self.tally.rest_requests += 1
                self.tally.rest_statuses[answer.status_code] += 1
                if answer.status_code >= 500:
                    self.tally.rest_5xx.append(f"{what}: {answer.status_code} {answer.text[:200]}")

        try:
            send()
        except Exception as exc:  # noqa: BLE001 - schemathesis could not make a request of this kind
            if "Unsatisfiable" not in type(exc).__name__:
                print(f"  {what}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)


# --- the run ------------------------------------------------------------------------------------


def print_table(tally: Tally, seconds: float, start_mb: float, end_mb: float) -> None:
    closes = ", ".join(f"{code}: {n}" for code, n in sorted(tally.ws_closes.items())) or "none"
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.rest_statuses.items()))
    peak_main = max(main for _, main, _ in tally.rss)
    peak_tree = max(tree for _, _, tree in tally.rss)
    rows = [
        ("duration", f"{seconds / 60:.1f} min"),
        ("/ws frames sent", f"{tally.ws_frames:,}"),
        ("/ws sessions (customer + expert)", f"{tally.ws_sessions:,}"),
        ("/ws sockets opened", f"{tally.ws_sockets:,}"),
        ("/ws closes by code", closes),
        (
            "/ws closes with 1011",
            f"{tally.ws_closes.get(1011, 0)}"
            + "".join(f"; {reason or 'no reason'}: {n}" for reason, n in tally.error_reasons.items()),
        ),
        ("/ws error 'internal'", f"{tally.ws_internal_errors}"),
        ("REST requests sent", f"{tally.rest_requests:,}"),
        ("REST answers by status", statuses),
        ("REST 5xx", f"{len(tally.rest_5xx)}"),
        ("/healthz probes", f"{tally.health_probes:,}"),
        ("crashes (server exited)", f"{tally.crashes}"),
        (
            "hangs (no answer in 10 s)",
            f"ws {tally.ws_hangs}, REST {tally.rest_hangs}, /healthz {tally.health_hangs}",
        ),
        (
            "server RSS, main process",
            f"{start_mb:.0f} MB at start -> {end_mb:.0f} MB at end (peak {peak_main:.0f})",
        ),
        (
            "server RSS, process tree",
            f"{tally.rss[0][2]:.0f} MB -> {tally.rss[-1][2]:.0f} MB (peak {peak_tree:.0f})",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    print("Fuzz run")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("  RSS every 30 s (main MB): " + " ".join(f"{main:.0f}" for _, main, _ in tally.rss))
    for line in tally.rest_5xx[:10]:
        print("  5xx: " + line)
    for line in tally.hang_notes[:10]:
        print("  hang: " + line)
    for line in tally.error_closes[:10]:
        print("  closed with 1011, the last frame sent before it: " + line)


def print_server_errors(log: str) -> None:
    """The exceptions in the server's log, by their last line, with how often each came (handled
    ones too: the server logs a refused offer's with its traceback), and the lines that logged
    them (an unhandled one is ``signaling failed`` for a 1011, ``Exception in ASGI application`` for
    a 500)."""
    lines = log.splitlines()
    ends: Counter[str] = Counter()
    logged_by: Counter[str] = Counter()
    for at, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            if at >= 2 and lines[at - 2].startswith("During handling"):
                before = "(the same chain)"
            else:
                before = next(
                    (lines[i] for i in range(at - 1, max(at - 4, -1), -1) if lines[i][:1].isupper()), ""
                )
            logged_by[before.split("[node=")[0].strip()[:160]] += 1
            end = next((lines[i] for i in range(at + 1, len(lines)) if lines[i][:1] not in (" ", "")), "")
            ends[end.split(" [node=")[0][:200]] += 1
    if ends:
        print("\nExceptions in the server's log (count, last line):")
        for end, count in ends.most_common(12):
            print(f"  {count:6}  {end}")
        print("Logged by (count, the log line before the traceback):")
        for line, count in logged_by.most_common(12):
            print(f"  {count:6}  {line}")


def mb(value: float) -> str:
    return f"{value / (1 << 20):.0f}"


def print_memory(label: str, history: list[dict[str, Any]], server: Server) -> None:
    """Where one process's memory went, from its first report to its last (after which glibc
    trimmed its heaps)."""
    first, last = history[0], history[-1]
    rows = [("", "start", "end", "after malloc_trim")]
    before, after = first["status_kb"], last["status_kb"]
    trimmed = last.get("status_kb_after_trim", after)
    for name in ("VmRSS", "RssAnon", "RssFile", "Threads"):
        unit = 1 if name == "Threads" else 1024
        rows.append(
            (
                name + ("" if name == "Threads" else " MB"),
                f"{before[name] / unit:.0f}",
                f"{after[name] / unit:.0f}",
                f"{trimmed[name] / unit:.0f}",
            )
        )
    malloc0, malloc1 = first["malloc"], last["malloc"]
    malloc2 = last.get("malloc_after_trim", malloc1)
    for name in ("heap_in_use_bytes", "heap_free_bytes", "mmapped_bytes"):
        rows.append(
            (
                "glibc " + name.replace("_bytes", " MB"),
                mb(malloc0[name]),
                mb(malloc1[name]),
                mb(malloc2[name]),
            )
        )
    rows.append(("glibc arenas (besides the main one)", str(first["arenas"]), str(last["arenas"]), ""))
    if "traced_bytes" in first:
        rows.append(("Python allocations traced MB", mb(first["traced_bytes"]), mb(last["traced_bytes"]), ""))
    rows.append(("Python objects (gc)", f"{first['objects']:,}", f"{last['objects']:,}", ""))
    print()
    print(f"Server memory, {label} (the probe; from {len(history)} reports, 30 s apart)")
    for row in rows:
        print(f"  {row[0]:<38} {row[1]:>10} {row[2]:>10} {row[3]:>18}")
    counts0 = dict(first["object_types"])
    grown = sorted(((n - counts0.get(kind, 0), kind, n) for kind, n in last["object_types"]), reverse=True)[
        :12
    ]
    print(
        "  object types that grew most: "
        + ", ".join(f"{kind} +{d:,} ({n:,})" for d, kind, n in grown if d > 0)
    )
    if "watched_types" in last:
        watched0 = dict(first.get("watched_types", []))
        alive = [(n - watched0.get(kind, 0), kind, n) for kind, n in last["watched_types"]]
        print("  objects of the server and its call libraries at the end (change since the start):")
        for change, kind, n in sorted(alive, key=lambda row: -row[2])[:25]:
            print(f"    {n:7,} ({change:+,})  {kind}")
    pauses = [r.get("took_s", 0.0) for r in history]
    print(f"  each report paused the process for {min(pauses):.1f}-{max(pauses):.1f} s")
    print("  VmRSS MB at each report: " + " ".join(f"{r['status_kb']['VmRSS'] / 1024:.0f}" for r in history))
    start_snapshot = server.snapshot(first["pid"], first["n"])
    end_snapshot = server.snapshot(last["pid"], last["n"])
    if start_snapshot and end_snapshot:
        diff = tracemalloc.Snapshot.load(str(end_snapshot)).compare_to(
            tracemalloc.Snapshot.load(str(start_snapshot)), "lineno"
        )
        print("  Python allocation sites that grew most (tracemalloc, start -> end):")
        for stat in diff[:15]:
            where = stat.traceback[0]
            name = (
                os.path.relpath(where.filename, REPO)
                if where.filename.startswith(str(REPO))
                else where.filename
            )
            name = name.split("site-packages/")[-1]
            print(
                f"   {stat.size_diff / (1 << 20):+8.1f} MB {stat.count_diff:+9,} blocks {name}:{where.lineno}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--phase-seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=6, help="sessions fuzzed at once in a /ws phase")
    parser.add_argument("--frames-per-session", type=int, default=400)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--memory-probe", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--keep-log", type=Path, default=None, help="copy the server's log here")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="repairsight-fuzz-") as tmp:
        server = Server(Path(tmp), args.memory_probe)
        tally = Tally()
        started = time.monotonic()
        watch = Watch(server, tally, started)
        watch.sample()
        first = server.probe()
        start_mb = tally.rss[0][1]
        watch.start()
        ws, rest_fuzzer = (
            WsFuzzer(server, tally, args.frames_per_session, rng),
            RestFuzzer(server, tally, rng),
        )
        end = started + args.minutes * 60
        phase = 0
        try:
            while time.monotonic() < end:
                deadline = min(end, time.monotonic() + args.phase_seconds)
                kind = "ws" if phase % 2 == 0 else "rest"
                print(f"{time.monotonic() - started:6.0f} s  {kind} phase", flush=True)
                if kind == "ws":
                    ws.refill()  # outside the event loop: the strategies make offers with aiortc
                    asyncio.run(ws.phase(deadline, args.pairs))
                else:
                    rest_fuzzer.phase(deadline)
                phase += 1
                watch.check_crash()
        finally:
            watch.finish()
            watch.check_crash()
            watch.sample()
            end_mb = tally.rss[-1][1]
            last = server.probe(trim=True)
            print_table(tally, time.monotonic() - started, start_mb, end_mb)
            history = [first, *watch.reports, last]
            for pid in last:
                label = "main process" if pid == server.pid else f"media worker (pid {pid})"
                print_memory(label, [reports[pid] for reports in history if pid in reports], server)
            server.process.stop()
            print_server_errors(server.process.log())
            if args.keep_log:
                args.keep_log.write_text(server.process.log())


if __name__ == "__main__":
    main()
