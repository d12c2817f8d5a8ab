"""The customer's phone basics in real Chromium (a 390x844 touch context, docs/customer-page.md).

While live the page holds a screen wake lock (the real Screen Wake Lock API: headless Chromium
grants it) and asks for it again when it becomes visible after being in the background (the
background itself is emulated: see BACKGROUND_AND_BACK); the
camera, ended by the phone while the browser was in the background, starts again without a
reload and the expert sees the clip again; the torch button stays hidden on a camera without a
torch (the fake camera); the microphone is asked for echo cancellation and noise suppression;
and with two cameras the switch button puts the other one on the same peer connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    CHROMIUM,
    Clip,
    RunningServer,
    chromium_args,
    customer_joins,
    grab_video_frame,
    open_console_for_new_case,
    wait_until,
)
from tests.e2e.test_live_session import MAX_MEAN_ABS_DIFF, matches_clip

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PHONE_STATE = """() => window.repairsight && window.repairsight.phone
  ? JSON.parse(JSON.stringify(window.repairsight.phone)) : null"""
CAMERA = "document.querySelector('[data-testid=local-video]').srcObject"
# What a phone does to a capture when the browser goes to the background: the track ends. A
# page cannot end a track as the system does (`stop()` fires no `ended`), so the test stops it
# and sends the `ended` event the system would.
END_CAMERA = f"""() => {{ const t = {CAMERA}.getVideoTracks()[0];
  t.stop(); t.dispatchEvent(new Event('ended')); return t.readyState; }}"""


BLACK = 16  # a picture whose brightest pixel is darker than this shows nothing


def expert_frame_number(expert: Any, clip: Clip) -> int | None:
    image = grab_video_frame(expert, "remote-video")
    if image is None or image.max() < BLACK:
        return None  # no picture yet
    number, diff = matches_clip(image, clip)
    assert diff < MAX_MEAN_ABS_DIFF, f"the expert's picture is not the clip (mean |diff| {diff:.1f})"
    return number


def wait_for_moving_video(expert: Any, clip: Clip, what: str) -> None:
    """The expert's picture shows the clip and moves on (a frozen last frame does not)."""
    first = wait_until(lambda: expert_frame_number(expert, clip), 20, what)
    wait_until(lambda: (expert_frame_number(expert, clip) or first) != first, 10, f"{what}, moving")


@pytest.fixture
def phone_pages(browser: Any) -> Iterator[tuple[Any, Any, list[str]]]:
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    customer_context = browser.new_context(**PHONE)
    customer = customer_context.new_page()
    errors: list[str] = []
    for page in (expert, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield expert, customer, errors


# Headless Chromium never hides a page (every tab and a minimized window stay "visible", with or
# without DevTools focus emulation: tried), so the test does what the browser does when a phone
# puts it in the background and back: the real lock is released (`WakeLockSentinel.release()`, as
# the browser releases it on hiding), and the page hears `visibilitychange` to "hidden", then to
# "visible". `wakeLock.request` itself is Chromium's own, not emulated.
BACKGROUND_AND_BACK = """async () => {
  const keeper = window.repairsight.phone.screen;
  let shown = 'hidden';
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => shown});
  document.dispatchEvent(new Event('visibilitychange'));
  await keeper.sentinel.release();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const heldWhileHidden = keeper.held;
  shown = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
  delete document.visibilityState;
  return heldWhileHidden;
}"""


def test_phone_basics_while_live(
    server: RunningServer, phone_pages: tuple[Any, Any, list[str]], board_clip: Clip
) -> None:
    expert, customer, errors = phone_pages
    _, customer_url = open_console_for_new_case(expert, server, "Phone basics")
    customer_joins(customer, customer_url)
    wait_for_moving_video(expert, board_clip, "the customer's picture at the expert")

    # The screen stays on while live.
    held = "() => Boolean(window.repairsight?.phone?.screen.held)"
    wait_until(lambda: customer.evaluate(held), 10, "the wake lock")
    assert customer.evaluate(PHONE_STATE)["screen"]["acquired"] == 1

    # The microphone was asked for echo cancellation and noise suppression, and has them.
    microphone = customer.evaluate(f"""() => {{
      const t = {CAMERA}.getAudioTracks()[0];
      const c = t.getConstraints(), s = t.getSettings();
      return {{asked: [c.echoCancellation, c.noiseSuppression],
               has: [s.echoCancellation, s.noiseSuppression]}};
    }}""")
    assert microphone == {"asked": [True, True], "has": [True, True]}, microphone

    # The fake camera has no torch and is the only camera: neither button is shown.
    capabilities = customer.evaluate(f"() => {CAMERA}.getVideoTracks()[0].getCapabilities()")
    assert "torch" not in capabilities
    assert not customer.get_by_test_id("torch").is_visible()
    assert not customer.get_by_test_id("switch-camera").is_visible()

    # The phone ends the camera while in the background; back in front, it runs again and the
    # expert sees the clip moving again, without a reload.
    assert customer.evaluate(END_CAMERA) == "ended"
    wait_until(lambda: customer.evaluate(PHONE_STATE)["camera"]["restarts"] == 1, 10, "the camera restarted")
    assert customer.evaluate(f"() => {CAMERA}.getVideoTracks()[0].readyState") == "live"
    wait_for_moving_video(expert, board_clip, "the customer's picture after the camera restarted")
    assert customer.evaluate("() => performance.getEntriesByType('navigation').length") == 1

    # In the background the browser drops the wake lock; visible again, the page takes it again.
    assert customer.evaluate(BACKGROUND_AND_BACK) is False, "the lock is still held while hidden"
    assert customer.evaluate("document.visibilityState") == "visible"
    wait_until(lambda: customer.evaluate(PHONE_STATE)["screen"]["held"], 5, "the wake lock again")
    assert customer.evaluate(PHONE_STATE)["screen"]["acquired"] == 2
    assert errors == []


def test_switch_camera_sends_the_other_camera(server: RunningServer, board_clip: Clip) -> None:
    """With two cameras (Chromium's fake devices, `device-count=2`) the switch button is shown;
    a tap puts the other camera on the same peer connection's sender, and another tap the first
    one again. (The expert's picture is not compared here: Chromium's second fake camera is not a
    picture a phone camera gives.)"""
    from playwright.sync_api import sync_playwright

    args = [a for a in chromium_args(board_clip.y4m) if not a.startswith("--use-f")]
    args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=device-count=2"]
    sender_track = "() => window.repairsight.pc.getSenders().find((s) => s.track?.kind === 'video').track.id"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            customer = browser.new_context(**PHONE).new_page()
            _, customer_url = open_console_for_new_case(expert, server, "Switch camera")
            customer_joins(customer, customer_url)
            wait_until(
                lambda: grab_video_frame(expert, "remote-video") is not None, 20, "video at the expert"
            )
            button = customer.get_by_test_id("switch-camera")
            wait_until(button.is_visible, 5, "the switch button")
            first_device = customer.evaluate(PHONE_STATE)["camera"]["deviceId"]
            first_track = customer.evaluate(sender_track)
            pc_id = customer.evaluate("() => (window.repairsight.pc.phoneTestId = 'first')")
            button.tap()
            wait_until(lambda: customer.evaluate(PHONE_STATE)["camera"]["switches"] == 1, 10, "the switch")
            assert customer.evaluate(PHONE_STATE)["camera"]["deviceId"] != first_device
            assert customer.evaluate(sender_track) != first_track
            assert customer.evaluate("() => window.repairsight.pc.phoneTestId") == pc_id
            assert customer.evaluate(f"() => {CAMERA}.getVideoTracks().map((t) => t.readyState)") == ["live"]
            button.tap()
            wait_until(
                lambda: customer.evaluate(PHONE_STATE)["camera"]["switches"] == 2, 10, "the switch back"
            )
            assert customer.evaluate(PHONE_STATE)["camera"]["deviceId"] == first_device
        finally:
            browser.close()
