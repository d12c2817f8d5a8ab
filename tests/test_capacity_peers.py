"""The capacity benchmark's load and measuring: its peers (``tests/capacity_peers.py``) through a real
server process, its CPU counting (``benchmarks/cores.py``) on processes of known cost, and its
verdicts (``benchmarks/capacity_bench.py``) on hand-built windows.

A replay customer's encoded frames must reach a counting expert byte for byte (a server that
changed them, or a peer that matched them wrongly, shows as unmatched frames or impossible
latencies), AR states must carry their lag, the server's CPU must include its media workers, and a
point that misses a target must fail. No timing is asserted here (that is the benchmark's job); the
waits only bound a broken run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from benchmarks.capacity_bench import (
    MAX_ADDED_P95_MS,
    MAX_AR_LAG_MS,
    MODE_BY_KEY,
    PROCEDURE,
    Limits,
    ModeResult,
    Point,
    Stalls,
    Window,
    scrape,
    soak_sessions,
    stalls_between,
)
from benchmarks.cores import TreeCpu, Usage, tree_cpu
from tests.capacity_peers import (
    ArStates,
    EncodedClip,
    FrameArrivals,
    ReplayTrack,
    encode_opus_tone,
    encode_vp8,
    relayed_pair,
)
from tests.server_process import ServerProcess, cli, start_server
from tests.synthetic_peers import board_camera, wait_for

CLIP_FRAMES = 30
FRAMES_TO_SEE = 45  # more than one loop: the clip's keyframe and its inter frames, and the wrap
AR_STATES_TO_SEE = 3


def small_clip() -> EncodedClip:
    pictures = [f.bgr for f in board_camera(num_frames=CLIP_FRAMES, size=(320, 240)).frames()]
    return encode_vp8(pictures, bitrate_bps=300_000)


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return small_clip()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, str]]:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    process = start_server(data_dir)
    try:
        yield process, api_token
    finally:
        process.stop()


# --- the peers -----------------------------------------------------------------------------------


def test_encoded_clip_has_one_keyframe_and_tells_its_frames_apart(clip: EncodedClip) -> None:
    assert len(clip.frames) == len(clip.index_of) == CLIP_FRAMES
    keyframes = [i for i, data in enumerate(clip.frames) if data[0] & 0x01 == 0]  # RFC 6386 9.1
    assert keyframes == [0]


async def test_replay_track_loops_restarts_at_a_keyframe_request_and_pauses(clip: EncodedClip) -> None:
    track = ReplayTrack("video", clip.frames, 0.001, 90000)
    sent = [bytes(await track.recv()) for _ in range(CLIP_FRAMES + 2)]
    assert sent == [*clip.frames, clip.frames[0], clip.frames[1]]
    track.request_keyframe()
    packet = await track.recv()
    assert bytes(packet) == clip.frames[0]
    assert packet.pts == (CLIP_FRAMES + 2) * track.ticks  # the stream's clock runs on
    track.pause()
    assert track.sent == CLIP_FRAMES + 3
    track.resume()
    assert bytes(await track.recv()) == clip.frames[1]


def test_frames_are_matched_by_their_bytes_and_timed_from_their_last_send(clip: EncodedClip) -> None:
    sender = ReplayTrack("video", clip.frames, 1 / 30, 90000)
    sender.sent_at[5] = 100.000
    arrivals = FrameArrivals(clip, sender)
    arrivals.record(5, 100.012)
    sender.sent_at[5] = 103.000  # the loop came round: the same frame, sent again
    arrivals.record(5, 103.004)
    assert list(arrivals.indices) == [5, 5]
    assert list(arrivals.latency_ms) == pytest.approx([12.0, 4.0])
    # A frame whose bytes a relay changed matches nothing: counted, never timed.
    arrivals.on_payload(clip.frames[3][:-1] + bytes([clip.frames[3][-1] ^ 0xFF]))
    assert arrivals.unknown == 1
    assert len(arrivals.latency_ms) == 2


def test_ar_states_keep_their_lag_and_nothing_else() -> None:
    states = ArStates()
    states.on_message(json.dumps({"type": "ar_state", "seq": 1, "lag_ms": 40}))
    states.on_message(json.dumps({"type": "ar_state", "seq": 2, "lag_ms": None}))
    states.on_message(json.dumps({"type": "pointer", "lag_ms": 999}))
    assert states.count == 2
    assert list(states.lag_ms) == [40.0]


async def test_replayed_frames_arrive_unchanged_at_a_counting_expert(
    clip: EncodedClip, server: tuple[ServerProcess, str]
) -> None:
    process, api_token = server
    customer, expert = await relayed_pair(
        process.base_url,
        api_token,
        clip,
        audio=encode_opus_tone(440.0),
        expert_audio=encode_opus_tone(660.0),
    )
    try:
        frames = expert.peer.frames
        assert frames is not None
        await wait_for(lambda: len(frames.indices) >= FRAMES_TO_SEE, 30, "frames at the expert")
        await wait_for(
            lambda: customer.peer.audio_packets_in[0] > 20 and expert.peer.audio_packets_in[0] > 20,
            10,
            "audio both ways",
        )
        # Every frame matched a frame of the clip byte for byte (index_of is keyed by the bytes)...
        assert frames.unknown == 0
        # ...in the order sent: the next of the loop, or its start when a keyframe was asked for...
        indices = list(frames.indices)
        assert all(b in ((a + 1) % CLIP_FRAMES, 0) for a, b in zip(indices, indices[1:], strict=False))
        # ...and after it was sent: a frame timed from another frame's send could come out negative.
        assert min(frames.latency_ms) >= 0
    finally:
        await customer.close()
        await expert.close()


async def test_an_ar_expert_gets_ar_states_with_their_lag(
    clip: EncodedClip, server: tuple[ServerProcess, str]
) -> None:
    process, api_token = server
    customer, expert = await relayed_pair(process.base_url, api_token, clip, procedure_id=PROCEDURE)
    try:
        states = expert.peer.ar
        assert states is not None
        await wait_for(lambda: len(states.lag_ms) >= AR_STATES_TO_SEE, 60, "AR states with lag_ms")
        # The newest frame received minus the state's own frame: never negative.
        assert min(states.lag_ms) >= 0
        assert expert.peer.frames is not None and expert.peer.frames.unknown == 0
    finally:
        await customer.close()
        await expert.close()


async def test_the_soak_reads_the_servers_stalls_from_its_metrics(server: tuple[ServerProcess, str]) -> None:
    process, _ = server
    before = await scrape(process.base_url)
    await asyncio.sleep(0.6)
    stalls = stalls_between(before, await scrape(process.base_url))
    after = await scrape(process.base_url)
    ticks = (
        after[("repairsight_event_loop_lag_seconds_count", "")]
        - before[("repairsight_event_loop_lag_seconds_count", "")]
    )
    assert ticks >= 4, "the server's loop watch ticks ten times a second"
    assert stalls.late_ticks == 0 and stalls.late_max_s <= 0.05, stalls  # an idle server is never held


def test_stalls_between_two_scrapes_count_the_late_ticks_and_full_collections() -> None:
    lag, gc = "repairsight_event_loop_lag_seconds", "repairsight_gc_full_pause_seconds"
    before = {(f"{lag}_count", ""): 100.0, (f"{lag}_bucket", "0.05"): 100.0, (f"{lag}_bucket", "0.1"): 100.0}
    before |= {(f"{lag}_bucket", "0.25"): 100.0, (f"{gc}_count", ""): 1.0, (f"{gc}_sum", ""): 0.1}
    after = {(f"{lag}_count", ""): 110.0, (f"{lag}_bucket", "0.05"): 108.0, (f"{lag}_bucket", "0.1"): 109.0}
    after |= {(f"{lag}_bucket", "0.25"): 110.0, (f"{gc}_count", ""): 3.0, (f"{gc}_sum", ""): 0.4}
    assert stalls_between(before, after) == Stalls(
        late_ticks=2, late_max_s=0.25, full_gcs=2, full_gc_s=0.4 - 0.1
    )


# --- CPU of a process tree -----------------------------------------------------------------------

BURN = textwrap.dedent(
    """
    import subprocess, sys, threading, time

    def burn(seconds):
        start = time.thread_time()
        while time.thread_time() - start < seconds:
            pass
    """
)
# A worker that burns 0.6 s on its main thread and 0.2 s on another, then waits.
WORKER = BURN + textwrap.dedent(
    """
    burn(0.6)
    other = threading.Thread(target=burn, args=(0.2,))
    other.start()
    other.join()
    print("ready", flush=True)
    time.sleep(60)
    """
)
EXITING = BURN + "burn(0.1)"
# A server that runs a short-lived child (0.1 s, waited for), starts the worker, burns 0.2 s itself.
SERVER = BURN + textwrap.dedent(
    f"""
    subprocess.run([sys.executable, "-c", {EXITING!r}], check=True)
    worker = subprocess.Popen([sys.executable, "-c", {WORKER!r}], stdout=subprocess.PIPE)
    worker.stdout.readline()
    burn(0.2)
    print("ready", flush=True)
    time.sleep(60)
    """
)
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
# A Python start-up and its imports cost CPU too: at most this much more than what a process burns.
STARTUP_S = 0.25


def test_tree_cpu_counts_every_process_and_splits_main_threads_from_the_rest() -> None:
    root = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert root.stdout is not None
        assert root.stdout.readline().strip() == "ready"
        cpu = tree_cpu(root.pid)
    finally:
        os.killpg(root.pid, signal.SIGKILL)
        root.wait()

    def about(measured: float, burnt: float, startups: int) -> bool:
        return burnt - 2 * TICK_S <= measured <= burnt + startups * STARTUP_S

    assert about(cpu.root_main, 0.2, 1), cpu
    assert about(cpu.root_threads, 0.0, 0), cpu
    assert about(cpu.children_main, 0.6, 1), cpu  # the live worker's main thread
    assert about(cpu.children_threads, 0.2 + 0.1, 2), cpu  # its other thread, and the exited child


# --- verdicts ------------------------------------------------------------------------------------


def window(
    n: int,
    latency_ms: float,
    fps: float = 30.0,
    server_cpu: float = 0.05,
    generator_cpu: float = 0.3,
    ar_lag_ms: float | None = None,
) -> Window:
    """``n`` experts at ``fps``, every frame ``latency_ms`` late, the server at ``server_cpu`` a session."""
    parts = TreeCpu(root_main=server_cpu * n)
    usage = Usage(8.0, parts.total, generator_cpu, parts, {}, {})
    return Window(
        n=n,
        usage=usage,
        fps=[fps] * n,
        sent_fps=30.0,
        latency_ms=[latency_ms] * 100,
        unknown_frames=0,
        send_late_p95_ms=1.0,
        ar_lag_ms=[] if ar_lag_ms is None else [ar_lag_ms] * 20,
    )


FORWARD, AR = MODE_BY_KEY["forward"], MODE_BY_KEY["ar-640"]


def test_a_point_holds_only_within_every_limit() -> None:
    limits = Limits()
    direct = window(4, 30.0, server_cpu=0.0)
    assert Point(FORWARD, window(4, 30.0 + MAX_ADDED_P95_MS - 1), direct).problems(limits) == []
    assert Point(FORWARD, window(4, 30.0 + MAX_ADDED_P95_MS + 1), direct).problems(limits) == [
        f"added p95 {MAX_ADDED_P95_MS + 1:.1f} > {MAX_ADDED_P95_MS:.0f} ms"
    ]
    assert Point(FORWARD, window(4, 31.0, fps=28.5), direct).problems(limits) == ["frame rate 28.5 < 29"]
    assert Point(AR, window(4, 31.0, ar_lag_ms=MAX_AR_LAG_MS - 1), direct).problems(limits) == []
    assert Point(AR, window(4, 31.0, ar_lag_ms=MAX_AR_LAG_MS + 10), direct).problems(limits) == [
        f"AR lag max {MAX_AR_LAG_MS + 10:.0f} > {MAX_AR_LAG_MS:.0f} ms"
    ]
    # "Never more than 150 ms behind": one late state in the window is enough, whatever the p95.
    once_late = window(4, 31.0, ar_lag_ms=33.0)
    once_late.ar_lag_ms[-1] = MAX_AR_LAG_MS + 16
    assert Point(AR, once_late, direct).problems(limits) == [
        f"AR lag max {MAX_AR_LAG_MS + 16:.0f} > {MAX_AR_LAG_MS:.0f} ms"
    ]
    assert Point(AR, window(4, 31.0), direct).problems(limits) == ["no AR state"]
    paced = dataclasses.replace(limits, ar_states_per_s=9.0)
    slow = window(4, 31.0, ar_lag_ms=66.0)
    slow.ar_states_per_s = 2.0  # vision visits four sessions, each far below its pace
    assert Point(AR, slow, direct).problems(paced) == ["AR states 2.0/s < 9.0/s"]
    slow.ar_states_per_s = 9.5
    assert Point(AR, slow, direct).problems(paced) == []


def test_a_point_measured_by_a_saturated_generator_does_not_hold_even_within_the_limits() -> None:
    within = Point(FORWARD, window(24, 31.0, generator_cpu=0.95), window(24, 30.0))
    assert within.problems(Limits()) == []
    assert not within.holds(Limits())
    assert Point(FORWARD, window(24, 31.0), window(24, 30.0)).holds(Limits())


def test_sessions_per_core_is_the_highest_n_held_or_derived_when_the_generator_gave_out() -> None:
    held = Point(FORWARD, window(8, 31.0, server_cpu=0.04), window(8, 30.0))
    server_limited = ModeResult(
        FORWARD, 64, held=held, failed=Point(FORWARD, window(12, 90.0), window(12, 30.0))
    )
    assert server_limited.sessions_per_core == (8, False)
    assert server_limited.limited_by.startswith("added p95")
    saturated = Point(FORWARD, window(12, 90.0, generator_cpu=0.95), window(12, 30.0))
    generator_limited = ModeResult(FORWARD, 64, held=held, failed=saturated)
    assert generator_limited.sessions_per_core == (25, True)  # one core / 4% a session
    assert generator_limited.limited_by.startswith("generator core saturated at N=12")


def test_the_soak_runs_at_the_highest_n_held_with_the_generator_not_too_busy() -> None:
    def held(n: int, generator_cpu: float) -> Point:
        return Point(FORWARD, window(n, 31.0, generator_cpu=generator_cpu), window(n, 30.0))

    points = [held(32, 0.45), held(48, 0.55), held(64, 0.72)]
    failed = Point(FORWARD, window(96, 31.0, generator_cpu=0.95), window(96, 30.0))
    result = ModeResult(FORWARD, 96, points=[*points, failed], held=points[-1], failed=failed)
    assert soak_sessions(result) == 48
    assert soak_sessions(ModeResult(FORWARD, 96, points=points[:2], held=points[1])) == 48
    assert soak_sessions(ModeResult(FORWARD, 96, points=[points[2]], held=points[2])) == 64  # no better
    assert soak_sessions(ModeResult(FORWARD, 96, points=[failed], failed=failed)) is None


def test_a_mode_that_misses_the_latency_limit_alone_is_ramped_against_its_own_first_point() -> None:
    first = Point(MODE_BY_KEY["reencode"], window(1, 75.0), window(1, 30.0))
    limits = Limits.from_first(first)
    assert limits.relative
    assert limits.added_p95_ms == pytest.approx(45.0 + MAX_ADDED_P95_MS)
    assert first.problems(limits) == []
