"""A live repair session as people do it: two real Chromium pages through the real server.

The expert signs in, creates a case, starts a session and opens the console; the customer
opens the link with a fake camera playing the board clip, consents and joins. We then check
what a person would see and hear: the expert's video shows the customer's picture (pixels
compared with the clip frame whose number the picture carries), the customer's page
receives the expert's audio with packets flowing, chat goes both ways, and after the
session ends the recording opens with PyAV and lasts as long as the session.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import av
import cv2
import httpx
import numpy as np

from tests.clipgen import read_frame_number
from tests.e2e.conftest import (
    Clip,
    RunningServer,
    TwoPages,
    customer_joins,
    end_session,
    grab_video_frame,
    open_console_for_new_case,
    wait_until,
)

# The expert's picture is the phone's own VP8 (forwarded, not re-encoded): it differs from the
# clip frame by compression only. A wrong frame or a blank one is far above this.
MAX_MEAN_ABS_DIFF = 14.0
DURATION_TOLERANCE_S = 1.0
AUDIO_STATS_JS = """async () => {
  const pc = window.repairsight && window.repairsight.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let packets = null;
  stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') packets = s.packetsReceived; });
  return packets;
}"""


def matches_clip(image: np.ndarray, clip: Clip) -> tuple[int, float]:
    """The clip frame number a received picture carries, and how far its pixels are from it."""
    height, width = clip.frames_bgr[0].shape[:2]
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    number = read_frame_number(image)
    assert number is not None, "the expert's picture carries no frame number: it is not the customer's camera"
    expected = clip.frames_bgr[number % len(clip.frames_bgr)]
    body = slice(0, height - 16)
    diff = float(np.abs(image[body].astype(np.int16) - expected[body].astype(np.int16)).mean())
    return number, diff


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_live_session_end_to_end(
    server: RunningServer, pages: TwoPages, board_clip: Clip, tmp_path: Path
) -> None:
    expert, customer, page_errors = pages.expert, pages.customer, pages.errors

    session_id, customer_url = open_console_for_new_case(
        server=server, expert=expert, title="Board does not power on"
    )
    clicked_join = customer_joins(customer, customer_url)

    # The expert sees the customer's picture: the clip's frames, not just any frames.
    wait_until(lambda: grab_video_frame(expert, "remote-video") is not None, 20, "video on the console")
    first_expert_frame_s = time.monotonic() - clicked_join
    time.sleep(2.0)  # let the picture settle to the start bitrate
    image = grab_video_frame(expert, "remote-video")
    assert image is not None
    number, diff = matches_clip(image, board_clip)
    assert diff < MAX_MEAN_ABS_DIFF, (
        f"expert's picture differs from clip frame {number}: mean |diff| {diff:.1f}"
    )
    assert image.shape[1] >= 320, f"the expert gets a {image.shape[1]}x{image.shape[0]} picture"
    print(
        f"time to first expert frame: {first_expert_frame_s:.2f} s; "
        f"picture {image.shape[1]}x{image.shape[0]}, "
        f"frame {number}, mean |diff| {diff:.1f}"
    )

    # The customer hears the expert: audio packets keep arriving.
    first = wait_until(lambda: customer.evaluate(AUDIO_STATS_JS), 10, "expert audio at the customer")
    time.sleep(1.0)
    assert customer.evaluate(AUDIO_STATS_JS) > first + 20, "expert audio packets stopped flowing"

    # Presence and chat, both ways.
    wait_until(lambda: "joined" in expert.get_by_test_id("presence").text_content().lower(), 5, "presence")
    expert.get_by_test_id("chat-input").fill("Please unplug the board first")
    expert.get_by_test_id("chat-send").click()
    wait_until(
        lambda: "Please unplug the board first" in customer.get_by_test_id("chat-log").text_content(),
        5,
        "the chat line at the customer",
    )
    customer.get_by_test_id("chat-input").fill("Done, it is unplugged")
    customer.get_by_test_id("chat-input").press("Enter")
    wait_until(
        lambda: "Done, it is unplugged" in expert.get_by_test_id("chat-log").text_content(),
        5,
        "the chat line at the expert",
    )

    # The expert ends the session; both pages say so.
    time.sleep(2.0)
    end_session(expert)
    wait_until(lambda: customer.get_by_test_id("session-ended").is_visible(), 10, "the end at the customer")
    assert page_errors == []

    # The recording is complete, opens with PyAV, decodes, and lasts as long as the session.
    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
        session = api.get(f"/api/sessions/{session_id}").json()
        recording = api.get(f"/api/sessions/{session_id}/recording").json()
        assert recording["status"] == "complete", recording
        path = tmp_path / "recording.webm"
        path.write_bytes(api.get(recording["media_url"]).content)
        events = [line for line in api.get(recording["events_url"]).text.splitlines() if line]
    session_s = (parse_time(session["ended_at"]) - parse_time(session["started_at"])).total_seconds()
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        voices = [s.metadata.get("title") for s in container.streams.audio]
        decoded = sum(1 for _ in container.decode(video=0))
        duration_s = container.duration / av.time_base if container.duration else 0.0
    assert kinds == ["audio", "audio", "audio", "video"]
    assert voices == ["both voices", "customer audio", "expert audio"]  # the mix first: players play it
    assert decoded > 100
    # started_at/ended_at are stored to the second, hence the extra second of slack.
    assert abs(duration_s - session_s) <= DURATION_TOLERANCE_S + 1.0, (duration_s, session_s)
    assert abs(recording["duration_s"] - duration_s) <= DURATION_TOLERANCE_S
    kinds_logged = [line.split('"type":"', 1)[1].split('"', 1)[0] for line in events]
    for kind in ("join", "consent", "chat", "session_ended"):
        assert kind in kinds_logged, f"no {kind!r} in the event log"
