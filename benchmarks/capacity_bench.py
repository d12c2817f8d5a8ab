"""Capacity benchmark: how many sessions one server core carries, for each kind of session.

The server runs alone on one core (``taskset``: the main process and its media workers), the load
generator on another (this process). The load is cheap so that the server, not the generator, runs
out first (``tests/capacity_peers.py``): customers replay a clip encoded once as packets (no encoder
per customer) and experts do not decode (the server forwards the phone's bytes unchanged, so each
frame is recognised by its bytes and timed on arrival). For each mode, N rises (1, 2, 4, 8, 16,
24, 32, ...) until a point fails, then is bisected between the last N that held and that one
(unless the generator gave out: see below). A point fails on:

* the expert's frame rate below 29 fps (the slowest expert's),
* the server-added latency p95 above 40 ms: the relay's p95 minus that of N direct
  customer->expert pairs (no server) measured at the same N in the same run,
* in the AR modes, any AR lag above 150 ms (the ``lag_ms`` of each ``ar_state``: the newest frame
  the server received minus the frame the state was computed on), or fewer AR states a second per
  session than 90% of N=1's (vision's pace from the server's settings: vision that visits more
  sessions than it can keeps the lag low but updates each overlay ever more rarely).

Sessions per core is the highest N that held. When the generator's core saturated first (its
process at 90% of the core or more, or the customers no longer sending 30 fps; that ends the ramp
even if the point was within the limits), the failure says nothing about the server: the row says
so and derives sessions per core from the server's CPU per session at the highest N that held.
Where another program was busy on either core, the point and the summary say so (its figures are
not the server's alone), and a point that failed so is measured once more. The baseline, which
already adds more than 40 ms with one session by design, is ramped against its own N=1 value plus
the limit instead, and its row says so.

Modes, all in one run: forward, forward + audio (both ways), AR at 640x480 and at 1280x720 (the
expert picks the board procedure: the server decodes every frame and runs vision at the pace of
its settings, ``vision_fps`` and ``vision_width_px``), and the baseline, aiortc's plain
decode-and-re-encode relay (``serve --media-relay reencode``), with and without audio.
``--minutes M`` then runs one mode at its capacity for M minutes (at most at the N whose generator
was within ``SOAK_GENERATOR_MAX``) and prints the latency per minute and its drift.

    ./run bench-capacity [--seconds 6] [--modes forward ar-640 ...] [--minutes 60]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from benchmarks.cores import (  # noqa: E402
    Meter,
    Usage,
    pin_this_process,
    python_loop_s,
    start_pinned_server,
    tree_cpus,
    tree_rss_mb,
)
from server.stalls import tune_collector  # noqa: E402
from tests.capacity_peers import (  # noqa: E402
    EncodedClip,
    Joined,
    LoadPeer,
    board_clip,
    direct_pair,
    encode_opus_tone,
    relayed_pair,
)
from tests.server_process import ServerProcess, cli  # noqa: E402
from tests.synthetic_peers import wait_for  # noqa: E402

VGA, HD = (640, 480), (1280, 720)
# What a browser sends at these sizes once its bandwidth estimate has ramped up (aiortc's own encoder,
# the synthetic phone of bench-media, settles at about 1.2 Mbps for 640x480: ~130 packets/s).
BITRATE_BPS = {VGA: 1_200_000, HD: 2_500_000}
PROCEDURE = "board-connector-reseat"  # vision's pipeline for the board clip

# When a point holds (the targets).
MIN_FPS = 29.0
MAX_ADDED_P95_MS = 40.0
MAX_AR_LAG_MS = 150.0  # "never more than 150 ms behind": every state counts, not a percentile
MIN_AR_PACE = 0.9  # of N=1's AR states a second, per session
# When the load generator is the limit: its process busy this much of its core, or its customers
# sending fewer frames than this (their timers fire late).
GENERATOR_SATURATED = 0.90
MIN_SENT_FPS = 29.5
SCHEDULE = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128)
FLOW_TIMEOUT_S = 30.0
OTHER_LOAD = 0.10  # a core this much busier than the process on it: something else ran there
RETRIES_ON_OTHER_LOAD = 1
# Then N is bisected between the highest that held and the lowest that failed, to within 1 or an
# eighth of the former (sessions per core to about 12%, in two or three more points).
BISECT_TO = 8
SOAK_WINDOW_S = 60.0
SOAK_LOG_TAIL_LINES = 80  # printed when an expert fell below MIN_FPS in the soak
# The generator is one Python process for every pair: busier than this, it holds a 6 s window but
# falls behind over minutes (N=64 forwarded, its core 72% busy in the ramp, 77-88% in the soak: the
# experts' latency p95 0.4-1.8 s while the server's loop was never held 100 ms, and experts answering
# the server's ICE consent checks so late that the server stopped sending to 3-36 of them). So the
# soak runs at the highest N that held with the generator's core at most this busy.
SOAK_GENERATOR_MAX = 0.60
# The targets, checked in the summary.
TARGET_AR_CPU = {VGA: 0.25, HD: 0.35}
TARGET_AR_SESSIONS, TARGET_FORWARD_SESSIONS = 4, 25
TARGET_DRIFT_MS = 50.0
TARGET_CPU_RATIO = 5.0  # bench-media's: forwarding against the plain relay
VISION_TOLERANCE, LATENCY_RESOLUTION_MS = 0.10, 2.0  # bench-media's: vision on against off


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    relay: str  # serve --media-relay
    size: tuple[int, int] = VGA
    audio: bool = False
    ar: bool = False

    @property
    def baseline(self) -> bool:
        """aiortc's plain relay: what the product is compared with, not a product path."""
        return self.relay == "reencode"

    @property
    def decode(self) -> bool:
        """Behind the re-encoding relay the bytes change: the expert decodes and reads the pixels."""
        return self.baseline

    @property
    def direct_key(self) -> tuple[tuple[int, int], bool, bool]:
        """Modes whose direct pairs load the generator alike share one baseline."""
        return (self.size, self.audio, self.decode)


MODES = (
    Mode("forward", "forward", "forward"),
    Mode("forward-audio", "forward + audio", "forward", audio=True),
    Mode("ar-640", "AR 640x480", "forward", ar=True),
    Mode("ar-1280", "AR 1280x720", "forward", HD, ar=True),
    Mode("reencode", "re-encode (baseline)", "reencode"),
    Mode("reencode-audio", "re-encode + audio", "reencode", audio=True),
)
MODE_BY_KEY = {m.key: m for m in MODES}


def percentile(data: Sequence[float], q: float) -> float:
    ordered = sorted(data)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


@dataclass
class Window:
    """One measuring window over N pairs."""

    n: int
    usage: Usage
    fps: list[float]  # per expert
    sent_fps: float  # mean per customer
    latency_ms: list[float]
    unknown_frames: int
    send_late_p95_ms: float
    ar_states_per_s: float | None = None
    ar_lag_ms: list[float] = field(default_factory=list)
    server_rss_mb: float | None = None
    # Each core as a whole: busier than the process measured on it when something else ran there.
    server_core_busy: float | None = None
    generator_core_busy: float | None = None
    # The pairs whose expert got fewer than MIN_FPS: which, and the state of both connections.
    slow_pairs: list[str] = field(default_factory=list)
    stalls: Stalls | None = None  # the server's own, in the soak

    def p(self, q: float) -> float:
        return percentile(self.latency_ms, q)

    @property
    def cpu_per_session(self) -> float | None:
        return None if self.usage.server is None else self.usage.server / self.n

    @property
    def generator_saturated(self) -> bool:
        return self.usage.generator >= GENERATOR_SATURATED or self.sent_fps < MIN_SENT_FPS


@dataclass(frozen=True)
class Stalls:
    """What held the server's whole process in a window, from its /metrics (``server/stalls.py``)."""

    late_ticks: int  # event-loop timers more than STALL_MS late
    late_max_s: float  # the largest lateness, to its histogram bucket's bound
    full_gcs: int
    full_gc_s: float  # their total time


STALL_MS = 50
LOOP_LAG, FULL_GC = "repairsight_event_loop_lag_seconds", "repairsight_gc_full_pause_seconds"


async def scrape(base_url: str) -> dict[tuple[str, str], float]:
    """The server's stall histograms: (sample name, its ``le`` or "") -> value."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return {
        (s.name, s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(text)
        if family.name in (LOOP_LAG, FULL_GC)
        for s in family.samples
    }


def stalls_between(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> Stalls:
    def grew(name: str, le: str = "") -> float:
        return after.get((name, le), 0.0) - before.get((name, le), 0.0)

    ticks = grew(f"{LOOP_LAG}_count")
    bounds = sorted(float(le) for name, le in after if name == f"{LOOP_LAG}_bucket" and le != "+Inf")
    late_max = next((b for b in bounds if grew(f"{LOOP_LAG}_bucket", str(b)) >= ticks), math.inf)
    return Stalls(
        late_ticks=round(ticks - grew(f"{LOOP_LAG}_bucket", str(STALL_MS / 1000))),
        late_max_s=late_max,
        full_gcs=round(grew(f"{FULL_GC}_count")),
        full_gc_s=grew(f"{FULL_GC}_sum"),
    )


@dataclass(frozen=True)
class Limits:
    """When a point holds, beyond the frame rate. ``relative``: the baseline missed the targets
    already with one session (the re-encoding relay adds more than 40 ms by design), so each limit
    is its value at N=1 plus the target: it is ramped until it gets that much worse. Never for the
    product's modes: one bad first point there is a result, not a new limit."""

    added_p95_ms: float = MAX_ADDED_P95_MS
    ar_lag_max_ms: float = MAX_AR_LAG_MS
    relative: bool = False
    # AR states a second each session must get: a share of N=1's (vision's own pace, from the
    # server's settings). Vision that visits more sessions than it can keeps the lag low but
    # updates each overlay ever more rarely; that is not an AR session at its pace any more.
    ar_states_per_s: float = 0.0

    @classmethod
    def from_first(cls, first: Point) -> Limits:
        lag = max(first.relay.ar_lag_ms, default=math.nan)
        return cls(
            max(MAX_ADDED_P95_MS, first.added(0.95) + MAX_ADDED_P95_MS),
            max(MAX_AR_LAG_MS, lag + MAX_AR_LAG_MS) if not math.isnan(lag) else MAX_AR_LAG_MS,
            relative=True,
        )


@dataclass
class Point:
    mode: Mode
    relay: Window
    direct: Window

    @property
    def n(self) -> int:
        return self.relay.n

    def added(self, q: float) -> float:
        return self.relay.p(q) - self.direct.p(q)

    def problems(self, limits: Limits) -> list[str]:
        """Why this point does not hold; empty when it does."""
        found = []
        fps = min(self.relay.fps, default=0.0)
        if fps < MIN_FPS:
            found.append(f"frame rate {fps:.1f} < {MIN_FPS:.0f}")
        if not self.added(0.95) <= limits.added_p95_ms:
            found.append(f"added p95 {self.added(0.95):.1f} > {limits.added_p95_ms:.0f} ms")
        if self.mode.ar:
            lag = max(self.relay.ar_lag_ms, default=math.nan)
            if math.isnan(lag):
                found.append("no AR state")
            elif lag > limits.ar_lag_max_ms:
                found.append(f"AR lag max {lag:.0f} > {limits.ar_lag_max_ms:.0f} ms")
            rate = self.relay.ar_states_per_s or 0.0
            if rate < limits.ar_states_per_s:
                found.append(f"AR states {rate:.1f}/s < {limits.ar_states_per_s:.1f}/s")
        return found

    @property
    def generator_saturated(self) -> bool:
        return self.relay.generator_saturated or self.direct.generator_saturated

    def holds(self, limits: Limits) -> bool:
        """Within every limit, measured by a generator that kept up: a saturated generator's
        latencies are its own (a "held" point there ends the ramp too)."""
        return not self.problems(limits) and not self.generator_saturated

    def other_load_notes(self) -> list[str]:
        """Another program busy on a core while this point was measured: its figures are not the
        server's or the generator's alone. The direct window's server core is not checked: the
        mode's server is there, its sessions paused."""
        notes = []
        for core, window, busy, measured in (
            ("server", "", self.relay.server_core_busy, self.relay.usage.server),
            ("generator", "", self.relay.generator_core_busy, self.relay.usage.generator),
            (
                "generator",
                " in the direct window",
                self.direct.generator_core_busy,
                self.direct.usage.generator,
            ),
        ):
            if other_load(busy, measured) > OTHER_LOAD:
                notes.append(f"other load on the {core} core{window}: {pct(other_load(busy, measured))}")
        return notes


# --- load: pairs of synthetic participants -----------------------------------------------------------


@dataclass
class Load:
    """What every pair sends: the clip of each size, the two voices."""

    clips: dict[tuple[int, int], EncodedClip]
    customer_voice: tuple[bytes, ...]
    expert_voice: tuple[bytes, ...]


class Pool:
    """N customer->expert pairs of one mode: through the server, or direct (``server`` None)."""

    def __init__(self, mode: Mode, load: Load, server: ServerProcess | None = None, token: str = "") -> None:
        self.mode, self.load, self.server, self.token = mode, load, server, token
        self.pairs: list[tuple[LoadPeer, LoadPeer]] = []
        self._closers: list[list[Joined | LoadPeer]] = []

    async def resize(self, n: int) -> None:
        """N working pairs. A pair whose connection failed (a generator too busy to answer ICE
        consent checks for 30 s, after an overloaded point) is closed and replaced."""
        for index in reversed(range(len(self.pairs))):
            if any(peer.pc.connectionState in ("failed", "closed") for peer in self.pairs[index]):
                await self._remove(index)
        while len(self.pairs) > n:
            await self._remove(len(self.pairs) - 1)
        while len(self.pairs) < n:
            await self._add()

    async def _remove(self, index: int) -> None:
        del self.pairs[index]
        for closer in self._closers.pop(index):
            await closer.close()

    async def _add(self) -> None:
        clip = self.load.clips[self.mode.size]
        audio = self.load.customer_voice if self.mode.audio else None
        expert_audio = self.load.expert_voice if self.mode.audio else None
        if self.server is None:
            customer, expert = await direct_pair(clip, audio, expert_audio, decode=self.mode.decode)
            self.pairs.append((customer, expert))
            self._closers.append([customer, expert])
            return
        joined = await relayed_pair(
            self.server.base_url,
            self.token,
            clip,
            audio,
            expert_audio,
            procedure_id=PROCEDURE if self.mode.ar else None,
            decode=self.mode.decode,
            title=f"capacity {self.mode.key} {len(self.pairs)}",
        )
        self.pairs.append((joined[0].peer, joined[1].peer))
        self._closers.append(list(joined))

    def pause(self) -> None:
        for customer, expert in self.pairs:
            customer.pause()
            expert.pause()

    def resume(self) -> None:
        for customer, expert in self.pairs:
            customer.resume()
            expert.resume()

    async def close(self) -> None:
        await self.resize(0)


async def settle(pool: Pool, warmup_s: float) -> None:
    """Let media flow again (and AR start) at every expert, then let it settle."""
    pool.resume()
    experts = [expert for _, expert in pool.pairs]
    for expert in experts:
        assert expert.frames is not None
        expert.frames.clear()
        if expert.ar is not None:
            expert.ar.clear()
    try:
        await wait_for(
            lambda: all(len(e.frames.indices) >= 30 for e in experts if e.frames), FLOW_TIMEOUT_S, "video"
        )
        if pool.mode.ar and pool.server is not None:
            await wait_for(lambda: all(e.ar and len(e.ar.lag_ms) > 0 for e in experts), FLOW_TIMEOUT_S, "AR")
    except AssertionError as exc:  # measured anyway: the window shows what did arrive
        print(f"  ({pool.mode.label}, N={len(experts)}: {exc})", file=sys.stderr)
    await asyncio.sleep(warmup_s)


async def measure(pool: Pool, seconds: float, cores: tuple[int, int]) -> Window:
    """One window over the pool's pairs; ``cores``: the server's and the generator's."""
    customers = [c for c, _ in pool.pairs]
    experts = [e for _, e in pool.pairs]
    for customer, expert in pool.pairs:
        assert customer.video_out is not None and expert.frames is not None
        customer.video_out.late_s.clear()
        expert.frames.clear()
        if expert.ar is not None:
            expert.ar.clear()
    sent_before = [c.video_out.sent for c in customers if c.video_out]
    meter = Meter(pool.server.process.pid if pool.server else None)
    meter.start()
    await asyncio.sleep(seconds)
    usage = meter.stop()
    wall = usage.seconds
    sent = [
        c.video_out.sent - before for c, before in zip(customers, sent_before, strict=True) if c.video_out
    ]
    frames = [e.frames for e in experts if e.frames]
    ar = [e.ar for e in experts if e.ar]
    late = [s for c in customers if c.video_out for s in c.video_out.late_s]
    slow_pairs = [
        f"pair {index}: {len(e.frames.indices) / wall:.1f} fps, customer sent {sent[index] / wall:.1f}, "
        f"customer {c.pc.connectionState}, expert {e.pc.connectionState}"
        for index, (c, e) in enumerate(pool.pairs)
        if e.frames is not None and len(e.frames.indices) / wall < MIN_FPS
    ]
    return Window(
        n=len(pool.pairs),
        usage=usage,
        fps=[len(f.indices) / wall for f in frames],
        sent_fps=statistics.mean(sent) / wall,
        latency_ms=[ms for f in frames for ms in f.latency_ms],
        unknown_frames=sum(f.unknown for f in frames),
        send_late_p95_ms=1000 * percentile(late, 0.95),
        ar_states_per_s=statistics.mean(a.count for a in ar) / wall if ar else None,
        ar_lag_ms=[ms for a in ar for ms in a.lag_ms],
        server_rss_mb=tree_rss_mb(pool.server.process.pid) if pool.server else None,
        server_core_busy=usage.core_busy.get(cores[0]),
        generator_core_busy=usage.core_busy.get(cores[1]),
        slow_pairs=slow_pairs,
    )


# --- the ramp ------------------------------------------------------------------------------------


@dataclass
class ModeResult:
    mode: Mode
    max_sessions: int
    points: list[Point] = field(default_factory=list)
    held: Point | None = None
    failed: Point | None = None
    setup_error: str | None = None  # sessions could not be set up at the next N
    limits: Limits = Limits()
    idle_cpu: float | None = None  # the server with no session: what N=1's figure includes besides it

    @property
    def generator_limited(self) -> bool:
        if self.setup_error is not None:
            return False
        return self.failed is None or self.failed.generator_saturated

    @property
    def sessions_per_core(self) -> tuple[int, bool]:
        """(sessions, derived): the highest N that held or, where the generator was the limit, one
        core divided by the server's CPU per session at that N."""
        if self.held is None:
            return 0, False
        cpu = self.held.relay.cpu_per_session
        if self.generator_limited and cpu:
            return max(self.held.n, math.floor(1 / cpu)), True
        return self.held.n, False

    @property
    def limited_by(self) -> str:
        if self.setup_error is not None:
            return self.setup_error
        if self.failed is None:
            return f"not reached by N={self.max_sessions} (--max-sessions)"
        why = "; ".join(self.failed.problems(self.limits))
        others = "".join(f" ({note})" for note in self.failed.other_load_notes())
        if self.failed.generator_saturated:
            return f"generator core saturated at N={self.failed.n} ({why or 'held'}){others}"
        return f"{why} at N={self.failed.n}{others}"

    def at(self, n: int) -> Point | None:
        return next((p for p in self.points if p.n == n), None)


class PinError(RuntimeError):
    """A server process escaped its core: every figure of the run would be wrong."""


class Bench:
    def __init__(self, args: argparse.Namespace, load: Load, root: Path) -> None:
        self.args = args
        self.load = load
        self.root = root
        self.cores = (args.server_cpu, args.generator_cpu)
        self.direct_windows: dict[tuple[tuple[tuple[int, int], bool, bool], int], Window] = {}

    def start_server(self, mode: Mode, name: str) -> tuple[ServerProcess, str]:
        data_dir = self.root / name
        try:
            token = cli(data_dir, "token", "create").strip()
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"`repairsight token create` failed:\n{exc.stderr}") from exc
        extra = ("--media-relay", mode.relay, "--media-workers", str(self.args.media_workers))
        server = start_pinned_server(data_dir, str(self.args.server_cpu), extra)
        return server, token

    async def direct_window(self, mode: Mode, n: int, again: bool = False) -> Window:
        """N direct pairs, measured once per N and kind of load, then closed: idle pairs still cost
        the generator (RTCP, ICE consent: about a third of a sending pair here), which would load
        it in the windows that follow."""
        key = mode.direct_key
        if again or (key, n) not in self.direct_windows:
            pool = Pool(mode, self.load)
            try:
                await pool.resize(n)
                await settle(pool, self.args.warmup)
                self.direct_windows[key, n] = await measure(pool, self.args.seconds, self.cores)
            finally:
                await pool.close()
        return self.direct_windows[key, n]

    async def point(self, pool: Pool, n: int, again: bool = False) -> Point:
        pool.pause()
        direct = await self.direct_window(pool.mode, n, again)
        started = time.monotonic()
        await pool.resize(n)
        print(f"  N={n}: sessions set up in {time.monotonic() - started:.1f} s", file=sys.stderr)
        await settle(pool, self.args.warmup)
        relay = await measure(pool, self.args.seconds, self.cores)
        pool.pause()
        assert pool.server is not None
        if tree_cpus(pool.server.process.pid) != {self.args.server_cpu}:
            raise PinError(f"a server process may run outside core {self.args.server_cpu}")
        return Point(pool.mode, relay, direct)

    async def ramp(self, mode: Mode) -> ModeResult:
        print(f"{mode.label} ...", file=sys.stderr)
        server, token = self.start_server(mode, mode.key)
        pool = Pool(mode, self.load, server, token)
        result = ModeResult(mode, self.args.max_sessions)
        try:
            meter = Meter(server.process.pid)
            meter.start()
            await asyncio.sleep(self.args.seconds)
            result.idle_cpu = meter.stop().server
            for n in [n for n in SCHEDULE if n < self.args.max_sessions] + [self.args.max_sessions]:
                if not await self._try(pool, n, result):
                    break
            # No bisecting below a generator that gave out: the result is derived from the point
            # that held, and more points would only measure the generator again.
            while (
                result.failed is not None
                and not result.failed.generator_saturated
                and result.held is not None
                and result.setup_error is None
            ):
                low, high = result.held.n, result.failed.n
                if high - low <= max(1, low // BISECT_TO):
                    break
                await self._try(pool, (low + high) // 2, result)
        finally:
            await pool.close()
            server.stop()
        return result

    async def _try(self, pool: Pool, n: int, result: ModeResult) -> bool:
        """Measure N; a point that fails while another program was busy on a core is measured once
        more (direct pairs too), so a passing burst elsewhere does not end the ramp."""
        for attempt in range(RETRIES_ON_OTHER_LOAD + 1):
            try:
                point = await self.point(pool, n, again=attempt > 0)
            except PinError:
                raise
            except Exception as exc:  # an overloaded server may refuse or time out: that is a result too
                result.setup_error = f"sessions could not be set up at N={n}: {exc!r}"
                print(f"  {result.setup_error}", file=sys.stderr)
                return False
            missed = point.problems(result.limits)
            if n == 1 and missed and min(point.relay.fps, default=0) >= MIN_FPS and pool.mode.baseline:
                result.limits = Limits.from_first(point)
            if n == 1 and pool.mode.ar and point.relay.ar_states_per_s:
                pace = MIN_AR_PACE * point.relay.ar_states_per_s
                result.limits = dataclasses.replace(result.limits, ar_states_per_s=pace)
            print(f"  {point_row(point, result.limits)}", file=sys.stderr)
            if point.holds(result.limits) or not point.other_load_notes():
                break
            if attempt < RETRIES_ON_OTHER_LOAD:
                print(f"  (another program was busy on a core: N={n} again)", file=sys.stderr)
        result.points.append(point)
        if not point.holds(result.limits):
            result.failed = point
            return False
        result.held = point
        return True

    async def soak(self, mode: Mode, n: int, minutes: int) -> list[Window]:
        print(f"soak: {mode.label}, N={n}, {minutes} min ...", file=sys.stderr)
        server, token = self.start_server(mode, f"soak-{mode.key}")
        pool = Pool(mode, self.load, server, token)
        windows = []
        try:
            await pool.resize(n)
            await settle(pool, self.args.warmup)
            for minute in range(minutes):
                before = await scrape(server.base_url)
                windows.append(await measure(pool, SOAK_WINDOW_S, self.cores))
                windows[-1].stalls = stalls_between(before, await scrape(server.base_url))
                print(f"  minute {minute + 1}: {soak_row(minute + 1, windows[-1])}", file=sys.stderr)
                for slow in windows[-1].slow_pairs:
                    print(f"    {slow}", file=sys.stderr)
            if any(window.slow_pairs for window in windows):
                tail = server.log().splitlines()[-SOAK_LOG_TAIL_LINES:]
                print("  the server's log, its end:\n" + "\n".join(tail), file=sys.stderr)
        finally:
            await pool.close()
            server.stop()
        return windows


def soak_sessions(result: ModeResult) -> int | None:
    """The soak's N: the highest that held with the generator's core at most SOAK_GENERATOR_MAX busy
    (the found capacity when it was; None when nothing held)."""
    fits = [
        p.n for p in result.points if p.holds(result.limits) and p.relay.usage.generator <= SOAK_GENERATOR_MAX
    ]
    if not fits:
        return result.held.n if result.held else None
    if result.held and max(fits) < result.held.n:
        print(
            f"soak at N={max(fits)}, not the capacity N={result.held.n}: the generator's core was "
            f"{pct(result.held.relay.usage.generator)} busy there (a soak needs it at most "
            f"{pct(SOAK_GENERATOR_MAX)}; --soak-sessions sets N)",
            file=sys.stderr,
        )
    return max(fits)


# --- the report ----------------------------------------------------------------------------------


def pct(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.1f}%"


def ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


def ar_lag(window: Window) -> str:
    if not window.ar_lag_ms:
        return "-"
    lags = window.ar_lag_ms
    return f"{percentile(lags, 0.5):.0f} / {percentile(lags, 0.95):.0f} / {max(lags):.0f}"


POINT_HEADER = (
    "| mode | N | fps min / mean | sent fps | latency p50 / p95 | direct p50 / p95 | added p50 / p95 "
    "| server CPU per session | server core busy | generator CPU | AR lag p50 / p95 / max | AR states/s "
    "| result |"
)


def other_load(core_busy: float | None, measured: float | None) -> float:
    """How much of a core went to something other than the process measured on it."""
    return 0.0 if core_busy is None or measured is None else core_busy - measured


def point_row(point: Point, limits: Limits) -> str:
    relay, direct = point.relay, point.direct
    verdict = "; ".join(point.problems(limits)) or "held"
    if point.generator_saturated:
        verdict += " (generator saturated)"
    verdict += "".join(f" ({note})" for note in point.other_load_notes())
    if relay.unknown_frames:
        verdict += f" ({relay.unknown_frames} frames unmatched)"
    return (
        f"| {point.mode.label} | {point.n} | {min(relay.fps, default=0):.1f} / "
        f"{statistics.mean(relay.fps) if relay.fps else 0:.1f} | {relay.sent_fps:.1f} "
        f"| {ms(relay.p(0.5))} / {ms(relay.p(0.95))} | {ms(direct.p(0.5))} / {ms(direct.p(0.95))} "
        f"| {ms(point.added(0.5))} / {ms(point.added(0.95))} | {pct(relay.cpu_per_session)} "
        f"| {pct(relay.server_core_busy)} | {pct(relay.usage.generator)} "
        f"| {ar_lag(relay)} | {ms(relay.ar_states_per_s)} | {verdict} |"
    )


SUMMARY_HEADER = (
    "| mode | sessions per core | limited by | server CPU: idle | per session, N=1 | at N held "
    "| N held: fps min "
    "| added p50 / p95 | AR lag p50 / p95 / max | AR states/s |"
)


def summary_row(result: ModeResult) -> str:
    sessions, derived = result.sessions_per_core
    one = result.at(1)
    held = result.held
    note = " (derived)" if derived else ""
    if result.limits.relative:
        note += f" (limits relative to N=1: added p95 <= {result.limits.added_p95_ms:.0f} ms" + (
            f", AR lag max <= {result.limits.ar_lag_max_ms:.0f} ms)" if result.mode.ar else ")"
        )
    if held is None:
        tail = "| - | - | - | - | - |"
    else:
        tail = (
            f"| {pct(held.relay.cpu_per_session)} (N={held.n}) | {min(held.relay.fps):.1f} "
            f"| {ms(held.added(0.5))} / {ms(held.added(0.95))} | {ar_lag(held.relay)} "
            f"| {ms(held.relay.ar_states_per_s)} |"
        )
    return (
        f"| {result.mode.label} | {sessions}{note} | {result.limited_by} "
        f"| {pct(result.idle_cpu)} | {pct(one.relay.cpu_per_session if one else None)} {tail}"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def target_lines(results: dict[str, ModeResult]) -> list[str]:
    lines = []
    for key, size in (("ar-640", VGA), ("ar-1280", HD)):
        result = results.get(key)
        one = result.at(1) if result else None
        if result and one and one.relay.cpu_per_session is not None:
            cpu = one.relay.cpu_per_session
            limit = TARGET_AR_CPU[size]
            lines.append(
                f"{result.mode.label}: server CPU for one session {pct(cpu)} of a core "
                f"(target <= {pct(limit)}: {verdict(cpu <= limit)})"
            )
    for key, target in (("ar-640", TARGET_AR_SESSIONS), ("forward", TARGET_FORWARD_SESSIONS)):
        result = results.get(key)
        if result:
            sessions, derived = result.sessions_per_core
            lines.append(
                f"{result.mode.label}: {sessions} sessions per core{' (derived)' if derived else ''} "
                f"(target >= {target}: {verdict(sessions >= target)})"
            )
    for key in ("ar-640", "ar-1280"):
        result = results.get(key)
        if result and result.held and result.held.relay.ar_lag_ms:
            worst = max(result.held.relay.ar_lag_ms)
            lines.append(
                f"{result.mode.label}: AR lag at most {worst:.0f} ms at N={result.held.n} "
                f"(target: never > {MAX_AR_LAG_MS:.0f} ms: {verdict(worst <= MAX_AR_LAG_MS)})"
            )
    for plain, baseline in (("forward", "reencode"), ("forward-audio", "reencode-audio")):
        forward, reencode = results.get(plain), results.get(baseline)
        a = forward.at(1) if forward else None
        b = reencode.at(1) if reencode else None
        if a and b and a.relay.cpu_per_session and b.relay.cpu_per_session is not None:
            ratio = b.relay.cpu_per_session / a.relay.cpu_per_session
            assert forward is not None
            lines.append(
                f"N=1: {forward.mode.label} uses {ratio:.1f}x less server CPU than the plain relay "
                f"(bench-media's target >= {TARGET_CPU_RATIO:.0f}x: {verdict(ratio >= TARGET_CPU_RATIO)})"
            )
    forward, vision = results.get("forward"), results.get("ar-640")
    off, on = (forward.at(1) if forward else None), (vision.at(1) if vision else None)
    if off and on:
        fps_change = statistics.mean(on.relay.fps) / statistics.mean(off.relay.fps) - 1
        a50, b50 = off.added(0.5), on.added(0.5)
        same = abs(b50 - a50) <= LATENCY_RESOLUTION_MS or (a50 > 0 and abs(b50 / a50 - 1) <= VISION_TOLERANCE)
        lines.append(
            f"N=1: AR on against off: fps {100 * fps_change:+.1f}%, added latency p50 {b50:.1f} against "
            f"{a50:.1f} ms (bench-media's target: within {100 * VISION_TOLERANCE:.0f}%, or "
            f"{LATENCY_RESOLUTION_MS:.0f} ms: {verdict(abs(fps_change) <= VISION_TOLERANCE and same)})"
        )
    return lines


SPLIT_HEADER = (
    "| mode | N | all | event loop | server's other threads | media workers: receive + decode "
    "| media workers: vision (other threads) |"
)


def split_rows(result: ModeResult) -> list[str]:
    """Where the server's CPU per session went, at N=1 and at the highest N that held."""
    rows = []
    points = {p.n: p for p in (result.at(1), result.held) if p is not None}
    for point in sorted(points.values(), key=lambda p: p.n):
        parts = point.relay.usage.server_parts
        if parts is None:
            continue
        each = parts.per(point.n)
        rows.append(
            f"| {result.mode.label} | {point.n} | {pct(each.total)} | {pct(each.root_main)} "
            f"| {pct(each.root_threads)} | {pct(each.children_main)} | {pct(each.children_threads)} |"
        )
    return rows


def stalls_cells(stalls: Stalls | None) -> str:
    if stalls is None:
        return "- | -"
    full = f"{stalls.full_gcs}" + (
        f" ({1000 * stalls.full_gc_s / stalls.full_gcs:.0f} ms each)" if stalls.full_gcs else ""
    )
    return f"{stalls.late_ticks} (max <= {1000 * stalls.late_max_s:.0f} ms) | {full}"


def soak_row(minute: int, window: Window) -> str:
    lag = percentile(window.ar_lag_ms, 0.95)
    return (
        f"| {minute} | {min(window.fps):.1f} | {len(window.slow_pairs)} | {window.sent_fps:.1f} "
        f"| {ms(window.p(0.5))} | {ms(window.p(0.95))} "
        f"| {pct(window.cpu_per_session)} | {pct(window.usage.generator)} | {ms(lag)} "
        f"| {window.server_rss_mb or 0:.0f} | {stalls_cells(window.stalls)} |"
    )


def print_report(
    bench: Bench,
    results: dict[str, ModeResult],
    soak: tuple[Mode, int, list[Window]] | None,
    load_s: dict[str, float],
) -> None:
    print("Every point (latency in ms; CPU in % of one core):\n")
    print(POINT_HEADER)
    print("|" + " --- |" * (POINT_HEADER.count("|") - 1))
    for result in results.values():
        for point in sorted(result.points, key=lambda p: p.n):
            print(point_row(point, result.limits))
    print()
    if soak is not None:
        mode, n, windows = soak
        direct = bench.direct_windows.get((mode.direct_key, n))
        print(f"Soak: {mode.label}, N={n}, {len(windows)} min (end-to-end latency, ms):\n")
        print(
            "| minute | fps min | experts < 29 fps | sent fps | latency p50 | p95 | server CPU per session "
            f"| generator CPU | AR lag p95 | server RSS MB | server loop > {STALL_MS} ms late "
            "| server full GCs |"
        )
        print("|" + " --- |" * 12)
        for minute, window in enumerate(windows, 1):
            print(soak_row(minute, window))
        if len(windows) >= 2:
            first, last = windows[0], windows[-1]
            drift50, drift95 = last.p(0.5) - first.p(0.5), last.p(0.95) - first.p(0.95)
            span = "an hour" if len(windows) >= 60 else f"{len(windows)} min (the target is over an hour)"
            worst = max(abs(drift50), abs(drift95))
            print(
                f"\nLatency drift (last minute minus first): p50 {drift50:+.1f} ms, "
                f"p95 {drift95:+.1f} ms over {span} "
                f"(target < {TARGET_DRIFT_MS:.0f} ms: {verdict(worst < TARGET_DRIFT_MS)})"
            )
        if direct is not None:
            print(
                f"(direct pairs at N={n} in the ramp: p50 {ms(direct.p(0.5))}, p95 {ms(direct.p(0.95))} ms)"
            )
        print()
    print(
        f"Capacity on one server core (core {bench.args.server_cpu}; the load on core "
        f"{bench.args.generator_cpu}), {bench.args.seconds:.0f} s windows:\n"
    )
    print(SUMMARY_HEADER)
    print("|" + " --- |" * (SUMMARY_HEADER.count("|") - 1))
    for result in results.values():
        print(summary_row(result))
    print()
    for line in target_lines(results):
        print(line)
    print("\nWhere the server's CPU per session goes (% of a core; the idle server's share included):\n")
    print(SPLIT_HEADER)
    print("|" + " --- |" * (SPLIT_HEADER.count("|") - 1))
    for result in results.values():
        for row in split_rows(result):
            print(row)
    clips = ", ".join(
        f"{w}x{h} {clip.bitrate_bps / 1000:.0f} kbps" for (w, h), clip in sorted(bench.load.clips.items())
    )
    print(
        f"\nClips: the board, VP8 encoded once ({clips}), 30 fps, a keyframe every 3 s and on request; "
        f"Opus 20 ms. Server: --media-workers {bench.args.media_workers}; recording on when forwarding."
    )
    print(
        "Machine: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in load_s.items())
        + f" for a 10-million-step Python loop; {os.cpu_count()} cores."
    )


# --- main ----------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> int:
    # A kill (SIGTERM) still stops the servers this run started: cancelling runs every ``finally``.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    modes = [MODE_BY_KEY[key] for key in args.modes]
    soak_mode = MODE_BY_KEY[args.soak_mode]
    if args.minutes and soak_mode not in modes:
        modes.append(soak_mode)
    started = time.monotonic()
    load_s = {
        f"core {args.server_cpu}": python_loop_s(args.server_cpu),
        f"core {args.generator_cpu}": python_loop_s(args.generator_cpu),
    }
    print("encoding the clips ...", file=sys.stderr)
    sizes = sorted({mode.size for mode in modes})
    load = Load(
        {size: board_clip(size, BITRATE_BPS[size]) for size in sizes},
        encode_opus_tone(440.0),
        encode_opus_tone(660.0),
    )
    results: dict[str, ModeResult] = {}
    soak = None
    with tempfile.TemporaryDirectory(prefix="capacity-") as tmp:
        bench = Bench(args, load, Path(tmp))
        for mode in modes:
            results[mode.key] = await bench.ramp(mode)
        if args.minutes:
            n = args.soak_sessions or soak_sessions(results[soak_mode.key])
            if n is None:
                print(f"no soak: {soak_mode.label} held no N", file=sys.stderr)
            else:
                soak = (soak_mode, n, await bench.soak(soak_mode, n, args.minutes))
    load_s[f"core {args.generator_cpu}, after"] = python_loop_s(args.generator_cpu)
    print_report(bench, results, soak, load_s)
    print(f"The run took {(time.monotonic() - started) / 60:.1f} min.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measuring window per point (default 6)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="settling time before each window (default 2)"
    )
    parser.add_argument(
        "--modes", nargs="+", choices=list(MODE_BY_KEY), default=list(MODE_BY_KEY), help="default: all"
    )
    parser.add_argument("--max-sessions", type=int, default=64, help="highest N tried (default 64)")
    parser.add_argument("--minutes", type=int, default=0, help="then a soak at the found capacity, this long")
    parser.add_argument("--soak-mode", choices=list(MODE_BY_KEY), default="forward", help="default forward")
    parser.add_argument(
        "--soak-sessions",
        type=int,
        default=0,
        help="the soak's N (default: the highest that held with the generator's core at most 60%% busy)",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="the server's core (default 0)")
    parser.add_argument("--generator-cpu", type=int, default=1, help="the load generator's core (default 1)")
    parser.add_argument(
        "--media-workers",
        type=int,
        default=1,
        help="the server's media workers (default 1: one per core it has)",
    )
    args = parser.parse_args(argv)
    cores = {args.server_cpu, args.generator_cpu}
    if len(cores) != 2 or not cores <= os.sched_getaffinity(0):
        parser.error("--server-cpu and --generator-cpu must be two different cores this process may use")
    pin_this_process({args.generator_cpu})
    # The generator forwards and counts packets of dozens of peers as the server does: the same
    # collector settings keep its own full collections from stalling every pair at once.
    tune_collector()
    try:
        return asyncio.run(main_async(args))
    except asyncio.CancelledError:
        print("stopped (SIGTERM); the servers it started are stopped", file=sys.stderr)
        return 128 + signal.SIGTERM


if __name__ == "__main__":
    raise SystemExit(main())
