"""Benchmark of the media path: N synthetic customers through the server to N synthetic experts.

For each N it measures, on loopback, with the server as a separate process:

* frames per second delivered to each expert,
* end-to-end latency (a frame's number is in its pixels: the customer notes when it left,
  the expert reads it back), and the server-added latency: relay minus a direct
  customer-to-expert peer connection run in the same invocation (median and p95),
* server CPU per session (from /proc over the measuring window),

for the product's relay (forward the encoded media) and, as the baseline in the same run, a
plain decode-and-re-encode relay (aiortc's public path, ``--media-relay reencode``). Prints a
table; timing belongs here, never in pass/fail tests.

As the issue describes it, the synthetic customers send the video clip. The rows marked
"+ audio" repeat the two relays with a tone sent both ways (customer and expert), as in a real
session: the product forwards the audio as it came, the baseline decodes and re-encodes it too.

    ./run bench-media [--sessions 1 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402

from tests.server_process import ServerProcess, cli, start_server  # noqa: E402
from tests.synthetic_peers import SyntheticPeer, board_camera, start_customer, wait_for, watch_tracks  # noqa: E402
from tests.ws_participants import Participant, join_as_customer, join_as_expert, link_token, new_session  # noqa: E402

WARMUP_S = 4.0
FORWARD, FORWARD_VISION, REENCODE = "forward", "forward + vision", "reencode (baseline)"
FORWARD_AUDIO, REENCODE_AUDIO = "forward + audio", "reencode + audio"
# The synthetic customer's clip is the circuit board: vision runs this procedure's pipeline on it.
VISION_PROCEDURE = "board-connector-reseat"
VISION_TOLERANCE = 0.10  # issue 4: fps and added latency with vision on within 10% of vision off
# Frame arrivals are timestamped on a Python event loop, so a latency is known to about a ms; two
# vision-off runs of the same relay differed by 0.7 ms. When the server adds only a ms or two, 10%
# of that is below what can be measured, and the comparison is made in ms against this instead.
LATENCY_RESOLUTION_MS = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The targets on this machine.
TARGET_ADDED_P95_MS = 40.0
TARGET_CPU_RATIO = 5.0


@dataclass
class Result:
    mode: str
    sessions: int
    fps: float
    latency_ms: list[float]
    server_cpu_per_session: float | None  # fraction of one core

    def p(self, q: float) -> float:
        data = sorted(self.latency_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def latencies(customers: list[SyntheticPeer], experts: list[SyntheticPeer], since: float) -> list[float]:
    out = []
    for customer, expert in zip(customers, experts, strict=True):
        assert customer.video_out is not None
        sent = customer.video_out.sent_at
        for number, arrived in expert.received.arrivals:
            if arrived >= since and number in sent:
                out.append((arrived - sent[number]) * 1000)
    return out


async def measure(
    customers: list[SyntheticPeer], experts: list[SyntheticPeer], seconds: float, server_pid: int | None
) -> tuple[float, list[float], float | None]:
    await wait_for(lambda: all(len(e.received.arrivals) > 10 for e in experts), 30, "video at every expert")
    await asyncio.sleep(WARMUP_S)
    for expert in experts:
        expert.received.keep_image = False
    cpu_before = process_cpu_s(server_pid) if server_pid else 0.0
    started = time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - started
    cpu = (process_cpu_s(server_pid) - cpu_before) / wall / len(experts) if server_pid else None
    fps = statistics.mean(e.received.fps(started) for e in experts)
    return fps, latencies(customers, experts, started), cpu


async def run_direct(n: int, seconds: float, frames: list) -> Result:  # type: ignore[type-arg]
    """N customer->expert pairs with no server between them: the latency floor."""
    customers, experts = [], []
    for _ in range(n):
        expert_holder: list[SyntheticPeer] = []

        async def answer(sdp: str, holder: list[SyntheticPeer] = expert_holder) -> str:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            peer = SyntheticPeer(pc)
            holder.append(peer)
            watch_tracks(peer)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            return str(pc.localDescription.sdp)

        customers.append(await start_customer(frames, answer, audio=False))
        experts.append(expert_holder[0])
    try:
        fps, lat, _ = await measure(customers, experts, seconds, None)
    finally:
        for peer in customers + experts:
            await peer.close()
    return Result("direct (no server)", n, fps, lat, None)


async def run_relay(
    server: ServerProcess,
    api_token: str,
    mode: str,
    n: int,
    seconds: float,
    frames: list[np.ndarray],
    procedure_id: str | None = None,
    audio: bool = False,
) -> Result:
    participants: list[Participant] = []
    customers, experts = [], []
    for i in range(n):
        session = new_session(server.base_url, api_token, f"bench {mode} {n}.{i}")
        customer = await join_as_customer(server.base_url, link_token(session), frames, audio=audio)
        expert = await join_as_expert(server.base_url, session["id"], api_token, audio=audio)
        if procedure_id is not None:  # vision on: the server runs the procedure's pipeline
            await expert.socket.send(json.dumps({"type": "set_procedure", "procedure_id": procedure_id}))
        participants += [customer, expert]
        customers.append(customer.peer)
        experts.append(expert.peer)
    try:
        fps, lat, cpu = await measure(customers, experts, seconds, server.process.pid)
    finally:
        for participant in participants:
            await participant.close()
    return Result(mode, n, fps, lat, cpu)


def start_mode_server(root: Path, relay: str) -> tuple[ServerProcess, str]:
    data_dir = root / relay
    token = cli(data_dir, "token", "create").strip()
    return start_server(data_dir, extra_args=("--media-relay", relay)), token


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def print_table(results: list[Result]) -> None:
    direct = {r.sessions: r for r in results if r.mode.startswith("direct")}
    header = (
        f"{'relay':<20} {'N':>2} {'fps':>6} {'lat p50':>8} {'lat p95':>8} {'added p50':>10} "
        f"{'added p95':>10} {'server CPU/session':>19}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        base = direct.get(r.sessions)
        added50 = r.p(0.5) - base.p(0.5) if base and base is not r else float("nan")
        added95 = r.p(0.95) - base.p(0.95) if base and base is not r else float("nan")
        cpu = (
            f"{100 * r.server_cpu_per_session:.1f}% of a core"
            if r.server_cpu_per_session is not None
            else "-"
        )
        print(
            f"{r.mode:<20} {r.sessions:>2} {r.fps:>6.1f} {r.p(0.5):>8.1f} {r.p(0.95):>8.1f} "
            f"{added50:>10.1f} {added95:>10.1f} {cpu:>19}"
        )
    print()
    for n in sorted(direct):
        forward, with_vision = find(results, FORWARD, n), find(results, FORWARD_VISION, n)
        reencode = find(results, REENCODE, n)
        if forward and with_vision:
            fps_change = with_vision.fps / forward.fps - 1
            off, on = forward.p(0.5) - direct[n].p(0.5), with_vision.p(0.5) - direct[n].p(0.5)
            latency_change = on / off - 1 if off > 0 else float("nan")
            latency_same = abs(latency_change) <= VISION_TOLERANCE or abs(on - off) <= LATENCY_RESOLUTION_MS
            met = abs(fps_change) <= VISION_TOLERANCE and latency_same
            print(
                f"N={n}: vision on vs off: fps {with_vision.fps:.1f} vs {forward.fps:.1f} "
                f"({100 * fps_change:+.1f}%), added latency p50 {on:.1f} vs {off:.1f} ms "
                f"({on - off:+.1f} ms, {100 * latency_change:+.1f}%) "
                f"(target: within {100 * VISION_TOLERANCE:.0f}%, or {LATENCY_RESOLUTION_MS:.0f} ms when the "
                f"added latency is too small to measure 10% of: {verdict(met)})"
            )
        ratio = cpu_ratio(forward, reencode)
        if forward and ratio is not None:
            added95 = forward.p(0.95) - direct[n].p(0.95)
            print(
                f"N={n}: forwarding uses {ratio:.1f}x less server CPU than the baseline "
                f"(target >= {TARGET_CPU_RATIO}x: {verdict(ratio >= TARGET_CPU_RATIO)}); "
                f"added latency p95 {added95:.1f} ms "
                f"(target <= {TARGET_ADDED_P95_MS} ms: {verdict(added95 <= TARGET_ADDED_P95_MS)})"
            )
        with_audio = cpu_ratio(find(results, FORWARD_AUDIO, n), find(results, REENCODE_AUDIO, n))
        if with_audio is not None:
            print(f"N={n}: with audio both ways in both relays: {with_audio:.1f}x less server CPU")


def find(results: list[Result], mode: str, n: int) -> Result | None:
    return next((r for r in results if r.mode == mode and r.sessions == n), None)


def cpu_ratio(forward: Result | None, reencode: Result | None) -> float | None:
    if forward is None or reencode is None:
        return None
    if not forward.server_cpu_per_session or reencode.server_cpu_per_session is None:
        return None
    return reencode.server_cpu_per_session / forward.server_cpu_per_session


async def main_async(args: argparse.Namespace) -> list[Result]:
    frames = [f.bgr for f in board_camera(num_frames=60).frames()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sessions:
            print(f"direct, N={n} ...", file=sys.stderr)
            results.append(await run_direct(n, args.seconds, frames))
        for relay in ("forward", "reencode"):
            server, token = start_mode_server(Path(tmp), relay)
            try:
                for n in args.sessions:
                    runs = (
                        [
                            (FORWARD, None, False),
                            (FORWARD_VISION, VISION_PROCEDURE, False),
                            (FORWARD_AUDIO, None, True),
                        ]
                        if relay == "forward"
                        else [(REENCODE, None, False), (REENCODE_AUDIO, None, True)]
                    )
                    for label, procedure, audio in runs:
                        print(f"{label}, N={n} ...", file=sys.stderr)
                        results.append(
                            await run_relay(server, token, label, n, args.seconds, frames, procedure, audio)
                        )
            finally:
                server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2], help="values of N (default 1 2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args))
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
