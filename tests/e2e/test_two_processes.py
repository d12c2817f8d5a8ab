"""Two server processes as one service, through real Chromium pages.

Both processes share a PostgreSQL database, a Redis and the recordings folder. The customer's
phone opens its link on process A; the expert signs in and runs the console on process B. Whichever
process took the session, the other bridges its page's socket to it, and the phone's media goes to
the owner directly. A person sees: the customer's picture on the console (pixels against the clip),
chat both ways, the first step completed by vision and the next one by the expert on both pages,
and afterwards one complete recording that plays.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests.cluster_service import Service
from tests.e2e.conftest import (
    EXPERT_PASSWORD,
    EXPERT_USER,
    Clip,
    RunningServer,
    TwoPages,
    customer_joins,
    end_session,
    grab_video_frame,
    open_console_for_new_case,
    wait_until,
)
from tests.e2e.test_live_session import MAX_MEAN_ABS_DIFF, matches_clip
from tests.server.databases import postgres_database

PROCEDURE = "board-connector-reseat"
PROCEDURE_STATE = "() => window.repairsight ? window.repairsight.procedure : null"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with postgres_database() as database_url:
        found = Service(tmp_path, database_url)
        found.add_user(EXPERT_USER, "expert", EXPERT_PASSWORD)
        try:
            yield found
        finally:
            found.close()


def test_customer_on_one_process_expert_on_the_other(
    service: Service, pages: TwoPages, board_clip: Clip, tmp_path: Path
) -> None:
    a, b = service.start(), service.start()
    expert, customer, page_errors = pages.expert, pages.customer, pages.errors

    console_side = RunningServer(b, service.data_dir, service.api_token)
    session_id, customer_url = open_console_for_new_case(expert, console_side, "Board does not start")
    expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
    phone_url = customer_url.replace(b.base_url, a.base_url)
    assert phone_url.startswith(a.base_url + "/join/")
    customer_joins(customer, phone_url)
    owner = service.owner_pid(session_id)
    assert owner in (a.process.pid, b.process.pid)
    print(f"session {session_id} lives on {'A' if owner == a.process.pid else 'B'} (the other bridges)")

    # The expert sees the customer's camera: the clip's frames.
    wait_until(lambda: grab_video_frame(expert, "remote-video") is not None, 20, "video on the console")
    time.sleep(2.0)
    image = grab_video_frame(expert, "remote-video")
    assert image is not None
    number, diff = matches_clip(image, board_clip)
    assert diff < MAX_MEAN_ABS_DIFF, f"the console's picture differs from clip frame {number}: {diff:.1f}"

    # Chat both ways.
    expert.get_by_test_id("chat-input").fill("Hold the board flat, please")
    expert.get_by_test_id("chat-send").click()
    wait_until(lambda: "Hold the board flat" in customer.get_by_test_id("chat-log").text_content(), 5, "chat")
    customer.get_by_test_id("chat-input").fill("Like this?")
    customer.get_by_test_id("chat-input").press("Enter")
    wait_until(lambda: "Like this?" in expert.get_by_test_id("chat-log").text_content(), 5, "chat back")

    # Steps: vision completes the first from the customer's camera; the expert advances the next.
    for page in (expert, customer):
        wait_until(
            lambda page=page: (page.evaluate(PROCEDURE_STATE) or {}).get("step_id") == "find-header",
            30,
            "vision to complete the first step",
        )
    expert.get_by_test_id("step-next").click()
    for page in (expert, customer):
        wait_until(
            lambda page=page: (page.evaluate(PROCEDURE_STATE) or {}).get("step_id") == "press", 10, "step 3"
        )
    assert "Press the plug down" in customer.get_by_test_id("step-title").text_content()

    end_session(expert)
    wait_until(lambda: customer.get_by_test_id("session-ended").is_visible(), 10, "the end at the customer")
    assert page_errors == []

    # One recording for the whole session, complete, read through the process that did not hold it.
    other = a if owner == b.process.pid else b
    with service.api(other) as api:
        recording: dict[str, object] = {}

        def finished() -> bool:
            recording.update(api.get(f"/api/sessions/{session_id}/recording").json())
            return recording.get("status") == "complete"

        wait_until(finished, 20, "the recording finished")
        path = tmp_path / "recording.webm"
        path.write_bytes(api.get(str(recording["media_url"])).content)
        events = api.get(str(recording["events_url"])).text
    with av.open(str(path)) as container:
        last_s = max(float(frame.time or 0.0) for frame in container.decode(video=0))
    # The one file covers the whole call: its video runs to the end of the recording.
    duration_s = float(str(recording["duration_s"]))
    assert duration_s > 0 and last_s >= duration_s - 1.0, (last_s, duration_s)
    for kind in ('"join"', '"chat"', '"step_completed"', '"step_changed"', '"session_ended"'):
        assert kind in events, f"no {kind} in the event log"
    with httpx.Client(base_url=other.base_url) as anonymous:
        assert anonymous.get("/readyz").status_code == 200
