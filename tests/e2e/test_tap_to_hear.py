"""'Tap to hear the expert' in real Chromium (docs/customer-page.md, "Phone basics"): where the browser
refuses to play the expert's voice on its own, the page shows the prompt, and the next tap starts the
audio for real: the element plays and the expert's voice arrives in it.

The customer's Chromium is its own browser, launched with ``--autoplay-policy=user-gesture-required``
(not the e2e default ``no-user-gesture-required``): it refuses ``play()`` of the remote WebRTC audio
unless a user gesture is under way. (Its default policy, ``document-user-activation-required``, lets a
MediaStream play without one: measured.) The page is then opened and joined without any user
activation, as after a join that carried no tap, so the refusal is Chromium's own: the test reads and
clicks in it through CDP's ``Runtime.evaluate`` (QuietPage), because Playwright's own calls into a
page run as a user gesture (CDP ``userGesture: true``) and would unlock the audio themselves. The
tap is a real touch (Playwright's ``tap``, Chromium's touch input).

Both pages that use it are covered: the customer page (a tap on the prompt) and the self-help page
(the next tap anywhere, here "Talk to an expert", starts the audio before the expert is there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    CHROMIUM,
    EXPERT_PASSWORD,
    EXPERT_USER,
    Clip,
    RunningServer,
    chromium_args,
    open_console_for_new_case,
    wait_until,
)
from tests.e2e.test_phone_basics import PHONE

AUDIO = """(() => {
  const audio = document.querySelector('[data-testid=remote-audio]');
  const prompt = document.querySelector('[data-testid=tap-to-hear]');
  return {paused: audio.paused, time: audio.currentTime, prompt: !prompt.hidden,
          tracks: audio.srcObject ? audio.srcObject.getAudioTracks().map((t) => t.readyState) : [],
          activated: navigator.userActivation.hasBeenActive};
})()"""
# The expert's voice as it arrives: the inbound audio RTP stream's bytes and energy (W3C
# webrtc-stats: totalAudioEnergy grows only while the decoded audio is not silence).
INBOUND_AUDIO = """(async () => {
  let found = null;
  (await window.repairsight.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      found = {bytes: s.bytesReceived, energy: s.totalAudioEnergy || 0};
    }
  });
  return found;
})()"""
READY = "document.documentElement.hasAttribute('data-i18n-ready')"
# Still refused this long after the prompt came: nothing but a tap starts the voice.
STILL_REFUSED_S = 2.0


class QuietPage:
    """Reads and clicks in a page through CDP's ``Runtime.evaluate``, which (unlike Playwright's own
    calls) gives the page no user activation: a click here is a script's, not a person's."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)

    def eval(self, expression: str) -> Any:
        answer = self.cdp.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression[:60]}…: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def click(self, testid: str) -> None:
        self.eval(f"document.querySelector({json.dumps(f'[data-testid={testid}]')}).click()")


@pytest.fixture
def strict_browser(browser: Any, board_clip: Clip) -> Iterator[Any]:
    """The customer's Chromium, where sound needs a user gesture (a second browser of the same
    Playwright: one sync Playwright a thread)."""
    args = [a for a in chromium_args(board_clip.y4m) if not a.startswith("--autoplay-policy")]
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=[*args, "--autoplay-policy=user-gesture-required"]
    )
    try:
        yield launched
    finally:
        launched.close()


def open_quietly(strict_browser: Any, url: str, errors: list[str]) -> QuietPage:
    page = strict_browser.new_context(**PHONE).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    quiet = QuietPage(page)
    wait_until(lambda: quiet.eval(READY), 10, "the page's words")
    return quiet


def assert_refused(customer: QuietPage) -> None:
    """Chromium refused the voice: the prompt is up, the element holds the live track, paused, and
    stays so without a tap."""
    audio = wait_until(lambda: (lambda a: a if a["prompt"] else None)(customer.eval(AUDIO)), 20, "the prompt")
    assert audio["tracks"] == ["live"] and audio["paused"], audio
    assert not audio["activated"], "the page had a user gesture: the refusal would not be Chromium's"
    time.sleep(STILL_REFUSED_S)
    audio = customer.eval(AUDIO)
    assert audio["paused"] and audio["prompt"], audio


def assert_the_voice_plays(customer: QuietPage) -> dict[str, float]:
    """The prompt is gone, the element plays on, and the expert's voice keeps arriving (not silence)."""
    wait_until(lambda: not customer.eval(AUDIO)["prompt"], 5, "the prompt to go")
    # The stream's statistics exist once its first packets came (the expert may have just joined).
    stats = wait_until(lambda: customer.eval(INBOUND_AUDIO), 10, "the expert's audio packets")
    first = customer.eval(AUDIO)
    assert not first["paused"], first
    time.sleep(2)
    later, stats_later = customer.eval(AUDIO), customer.eval(INBOUND_AUDIO)
    assert not later["paused"] and later["time"] > first["time"] + 1, (first, later)
    assert stats_later["bytes"] > stats["bytes"], (stats, stats_later)
    assert stats_later["energy"] > stats["energy"], f"the expert's audio is silent: {stats} -> {stats_later}"
    return {"played_s": later["time"] - first["time"], "energy": stats_later["energy"] - stats["energy"]}


def test_the_customer_page_starts_the_experts_voice_on_a_tap(
    server: RunningServer, browser: Any, strict_browser: Any
) -> None:
    errors: list[str] = []
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    expert.on("pageerror", lambda exc: errors.append(str(exc)))
    _, customer_url = open_console_for_new_case(expert, server, "Tap to hear")
    customer = open_quietly(strict_browser, customer_url, errors)
    customer.click("consent-checkbox")
    customer.click("join-button")
    presence = expert.get_by_test_id("presence")
    wait_until(lambda: "joined" in (presence.text_content() or "").lower(), 20, "the customer in the call")

    assert_refused(customer)
    customer.page.get_by_test_id("tap-to-hear").tap()
    heard = assert_the_voice_plays(customer)
    print(f"customer page: played {heard['played_s']:.2f} s in 2 s, audio energy +{heard['energy']:.4f}")
    assert errors == []


def test_the_self_help_page_starts_the_experts_voice_on_the_next_tap(
    server: RunningServer, browser: Any, strict_browser: Any
) -> None:
    errors: list[str] = []
    staff = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=staff, timeout=30) as client:
        link = client.post("/api/procedures/board-connector-reseat/self-help", json={}).json()
        customer = open_quietly(strict_browser, link["url"], errors)
        customer.click("consent-checkbox")
        customer.click("selfhelp-start")

        # The session's audio is refused; the next tap anywhere (here "Talk to an expert") starts
        # it, so the expert is heard the moment they join.
        assert_refused(customer)
        customer.page.get_by_test_id("escalate-button").tap()
        wait_until(lambda: not customer.eval(AUDIO)["prompt"], 5, "the prompt to go")
        assert not customer.eval(AUDIO)["paused"]
        [waiting] = wait_until(lambda: client.get("/api/self-help/queue").json()["queue"], 10, "the queue")
        picked = client.post(f"/api/self-help/runs/{waiting['run_id']}/pickup")
        assert picked.status_code == 200, picked.text

        expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        expert.on("pageerror", lambda exc: errors.append(str(exc)))
        expert.goto(f"{server.base_url}/?next=/console/{picked.json()['session_id']}")
        expert.get_by_test_id("login-username").fill(EXPERT_USER)
        expert.get_by_test_id("login-password").fill(EXPERT_PASSWORD)
        expert.get_by_test_id("login-submit").click()
        wait_until(
            lambda: (
                customer.eval("document.querySelector('[data-testid=presence]').textContent")
                == "Expert connected"
            ),
            20,
            "the expert to join",
        )
        heard = assert_the_voice_plays(customer)
        print(f"self-help page: played {heard['played_s']:.2f} s in 2 s, audio energy +{heard['energy']:.4f}")
    assert errors == []
