"""A server killed mid-session leaves a recording that plays; the next start marks it partial."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import httpx
import pytest

from tests.server_process import ServerProcess, cli, start_server
from tests.synthetic_peers import board_camera, wait_for
from tests.ws_participants import join_as_customer, join_as_expert, link_token, new_session

SESSION_SECONDS = 8.0
MAX_LOST_S = 3.0  # the bound: at most the last 3 s may be missing

pytestmark = pytest.mark.slow


def decoded_video_span_s(path: Path) -> tuple[int, float]:
    """Decode every video frame; returns (frames, last frame time in s)."""
    frames, last = 0, 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames += 1
            last = float(frame.time or 0.0)
    return frames, last


async def run_session_until_killed(
    server: ServerProcess, token: str, session_id: str, api_token: str
) -> float:
    """Run a session, kill -9 the server while both peers are still sending; returns the session's length."""
    frames = [f.bgr for f in board_camera(num_frames=30).frames()]
    joined_at = time.monotonic()
    customer = await join_as_customer(server.base_url, token, frames)
    expert = await join_as_expert(server.base_url, session_id, api_token)
    await wait_for(lambda: len(expert.peer.received.arrivals) > 10, 20, "video at the expert")
    await asyncio.sleep(SESSION_SECONDS)
    server.kill()
    session_s = time.monotonic() - joined_at
    for participant in (customer, expert):
        await participant.close()
    return session_s


def test_kill_9_leaves_a_partial_recording_that_plays(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir)
    try:
        session = new_session(server.base_url, api_token)
        session_s = asyncio.run(
            run_session_until_killed(server, link_token(session), session["id"], api_token)
        )
    finally:
        server.stop()

    server = start_server(data_dir)
    try:
        headers = {"Authorization": f"Bearer {api_token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            info = client.get(f"/api/sessions/{session['id']}").json()
            assert info["state"] == "ended"
            recording = client.get(f"/api/sessions/{session['id']}/recording").json()
            assert recording["status"] == "partial", recording
            media = client.get(recording["media_url"])
            assert media.status_code == 200
            path = tmp_path / "downloaded.webm"
            path.write_bytes(media.content)
            events = client.get(recording["events_url"]).text.strip().splitlines()
            assert '"recovered":true' in events[-1]
    finally:
        server.stop()

    frames, last_s = decoded_video_span_s(path)
    print(f"after kill -9: the recording plays to {last_s:.2f} s of a {session_s:.2f} s session")
    # The recording runs from the customer's join (its consent) to the kill.
    assert frames > 30
    assert recording["duration_s"] is not None
    assert last_s >= session_s - MAX_LOST_S, (
        f"recording stops at {last_s:.2f} s of a {session_s:.2f} s session"
    )
    assert abs(recording["duration_s"] - last_s) < 1.0
