"""Consent in real Chromium: the customer consents, reloads and re-joins with "Rejoin, not recorded",
then reloads and re-joins with "Rejoin, recorded". Both badges follow each decision, nothing is
written to the recording while consent is withdrawn, the same file goes on afterwards, and the case
shows the history."""

from __future__ import annotations

import json
import time
from typing import Any

import av
import httpx

from tests.e2e.conftest import (
    RunningServer,
    TwoPages,
    customer_joins,
    end_session,
    open_console_for_new_case,
    wait_until,
)

BADGE = "() => document.querySelector('[data-testid=recording-badge]').dataset.status"


def rejoin(customer: Any, recorded: bool) -> None:
    """After a reload: one tap rejoins, and it answers the recording question again (no box kept
    ticked from before)."""
    assert customer.get_by_test_id("consent-checkbox").is_hidden(), "a reload must ask again"
    customer.get_by_test_id("rejoin-recorded" if recorded else "rejoin-unrecorded").click()
    wait_until(
        lambda: customer.evaluate("() => document.querySelector('[data-testid=local-video]').videoWidth > 0"),
        15,
        "the camera preview",
    )


def video_times_s(path: str) -> list[float]:
    with av.open(path) as container:
        return [float(p.pts * p.time_base) for p in container.demux(video=0) if p.pts is not None]


def test_consent_withdrawn_on_a_reload_stops_the_recording_until_given_again(
    server: RunningServer, pages: TwoPages
) -> None:
    expert, customer = pages.expert, pages.customer
    session_id, customer_url = open_console_for_new_case(expert, server, "Consent after a reload")
    customer_joins(customer, customer_url)
    wait_until(lambda: expert.evaluate(BADGE) == "recording", 10, "the expert's badge: recording")
    assert customer.evaluate(BADGE) == "recording"
    time.sleep(3)

    customer.reload()
    rejoin(customer, recorded=False)
    wait_until(lambda: expert.evaluate(BADGE) == "declined", 10, "the expert's badge after the decline")
    wait_until(lambda: customer.evaluate(BADGE) == "declined", 10, "the customer's badge after the decline")
    assert expert.get_by_test_id("recording-badge").text_content() == "Not recorded"
    time.sleep(4)  # video still flows to the expert; none of it may be written

    customer.reload()
    rejoin(customer, recorded=True)
    wait_until(lambda: expert.evaluate(BADGE) == "recording", 10, "the expert's badge: recording again")
    time.sleep(3)
    end_session(expert)
    wait_until(lambda: customer.get_by_test_id("session-ended").is_visible(), 15, "the end")

    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as api:
        row = api.get(f"/api/sessions/{session_id}").json()
        log = api.get(f"/api/sessions/{session_id}/recording/events").text
    assert row["recording"]["status"] == "complete" and row["consent"] is True
    parsed = [json.loads(line) for line in log.splitlines()]
    paused = next(e["t_ms"] for e in parsed if e["type"] == "recording_paused")
    resumed = next(e["t_ms"] for e in parsed if e["type"] == "recording_resumed")
    assert resumed - paused > 3500
    times = video_times_s(str(server.data_dir / "recordings" / session_id / "recording.webm"))
    inside = [t for t in times if paused / 1000 + 0.1 < t < resumed / 1000 - 0.1]
    assert inside == [], f"{len(inside)} video frames were written while consent was withdrawn"
    assert any(t < paused / 1000 for t in times) and any(t > resumed / 1000 for t in times)

    # The case says what the customer decided, in order.
    expert.goto(f"{server.base_url}/cases/{row['case_id']}")
    history = expert.get_by_test_id("consent-history")
    history.wait_for()
    text = history.text_content() or ""
    assert text.index("agreed") < text.index("withdrew") < text.index("agreed again"), text
    assert pages.errors == []
