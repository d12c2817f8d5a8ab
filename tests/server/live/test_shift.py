"""A shift's worth of abuse on a real server process: two sessions at once with vision on, burn-in
switched on and off 50 times in each while the video flows, then a native crash of a media worker.
The server, both calls and both recordings must survive; the expert hears AR stop and come back.

Synthetic peers are real aiortc WebRTC peers talking to the server over ``/ws`` and UDP, as the
pages do (the burn-in crash of issue 10 needed only that: frames, vision and burn-in at once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import av
import httpx

from tests.server_process import ServerProcess, cli, start_server
from tests.synthetic_peers import board_camera, wait_for
from tests.ws_participants import Participant, join_as_customer, join_as_expert, link_token, new_session

PROCEDURE = "board-connector-reseat"
TOGGLES = 50


def media_workers_of(server: ServerProcess) -> list[int]:
    """The server's media worker processes (spawned children running ``worker_process_main``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.process.pid and "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


def recording_plays(path: Path) -> tuple[int, float]:
    """Video frames that decode, and the last video time in seconds."""
    frames, last_s = 0, 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames += 1
            last_s = float(frame.time or 0.0)
    return frames, last_s


async def messages_of(participant: Participant, kind: str, seen: list[dict[str, Any]]) -> None:
    while True:
        message = await participant.next_of(kind, timeout_s=120)
        seen.append(message)


async def shift(server: ServerProcess, token: str) -> dict[str, Any]:
    # 1280x720, as phones send: the old burn-in crash (two threads converting one decoded frame)
    # killed the whole server within 10 switches at this size (2 of 2 tries).
    frames = [f.bgr for f in board_camera(60, size=(1280, 720)).frames()]
    calls = []
    for index in range(2):
        session = new_session(server.base_url, token, f"Shift case {index}")
        customer = await join_as_customer(server.base_url, link_token(session), frames)
        ar_state: dict[str, Any] = {}
        expert = await join_as_expert(server.base_url, session["id"], token, found_ar_state=ar_state)
        await expert.socket.send(json.dumps({"type": "set_procedure", "procedure_id": PROCEDURE}))
        calls.append((session, customer, expert, ar_state))
    for _, _, expert, ar_state in calls:
        await wait_for(lambda s=ar_state: bool(s), 30, "vision to locate the board")
        await wait_for(lambda e=expert: len(e.peer.received.arrivals) > 30, 20, "video at the expert")

    # Burn-in on and off, 50 times in each session, while frames flow and vision runs.
    for toggle in range(TOGGLES):
        for _, _, expert, _ in calls:
            await expert.socket.send(json.dumps({"type": "burn_in", "enabled": toggle % 2 == 0}))
        await asyncio.sleep(0.15)
        assert server.process.poll() is None, f"the server died at toggle {toggle}"
    for _, _, expert, _ in calls:
        await expert.socket.send(json.dumps({"type": "burn_in", "enabled": False}))
        before = len(expert.peer.received.arrivals)
        await wait_for(
            lambda e=expert, b=before: len(e.peer.received.arrivals) > b + 30, 20, "video after the toggles"
        )

    # A native crash of a media worker: the calls go on, the experts are told, AR comes back.
    statuses: list[list[dict[str, Any]]] = [[], []]
    watchers = [
        asyncio.ensure_future(messages_of(expert, "vision_status", statuses[i]))
        for i, (_, _, expert, _) in enumerate(calls)
    ]
    workers = media_workers_of(server)
    assert len(workers) == 2, f"one media worker per core expected, found {workers}"
    os.kill(workers[0], signal.SIGSEGV)
    during = [len(expert.peer.received.arrivals) for _, _, expert, _ in calls]
    await asyncio.sleep(2.0)
    for (_, _, expert, _), count in zip(calls, during, strict=True):
        # Still flowing while the new worker starts (on 2 cores shared with this test's four peers,
        # the frame rate dips for that second or two; a stopped call would add none).
        assert len(expert.peer.received.arrivals) > count + 10, "the call stopped with the worker"
    await wait_for(lambda: any(s and s[-1]["state"] == "running" for s in statuses), 30, "AR back")
    for _, _, _, ar_state in calls:
        ar_state.clear()
    for _, _, _, ar_state in calls:
        await wait_for(lambda s=ar_state: bool(s), 30, "AR states after the restart")
    for watcher in watchers:
        watcher.cancel()
    assert server.process.poll() is None
    replaced = media_workers_of(server)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        for session, customer, expert, _ in calls:
            ended = await api.post(f"/api/sessions/{session['id']}/end", json={})
            assert ended.status_code == 200, ended.text
            await customer.close()
            await expert.close()
    return {"sessions": [c[0]["id"] for c in calls], "statuses": statuses, "workers": (workers, replaced)}


def test_burn_in_switched_50_times_in_two_sessions_and_a_worker_crash_leave_every_call(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir, extra_args=("--media-workers", "2"))
    try:
        result = asyncio.run(shift(server, token))
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers) as api:
            rows = [api.get(f"/api/sessions/{sid}").json() for sid in result["sessions"]]
            events = [api.get(f"/api/sessions/{sid}/recording/events").text for sid in result["sessions"]]
    finally:
        server.stop()
    crashed, replaced = result["workers"]
    assert crashed[0] not in replaced and len(replaced) == 2
    told = [s for s in result["statuses"] if s]
    assert told, "no expert was told that AR stopped"
    for status in told:
        assert [m["state"] for m in status][:2] == ["restarting", "running"]
        assert "crashed (signal 11)" in status[0]["message"]
    for row, log in zip(rows, events, strict=True):
        assert row["recording"]["status"] == "complete", row
        frames, last_s = recording_plays(data_dir / "recordings" / row["id"] / "recording.webm")
        # Plays to its end (the synthetic phones send 720p slower than 30 fps on 2 busy cores).
        duration = row["recording"]["duration_s"]
        assert frames > 4 * duration and abs(last_s - duration) < 1.5, (frames, last_s, row)
        burn_ins = [json.loads(line) for line in log.splitlines() if '"burn_in"' in line]
        assert len(burn_ins) == TOGGLES  # each switch logged once; the last "off" changed nothing
    assert any('"ar_paused"' in log and '"ar_resumed"' in log for log in events)
