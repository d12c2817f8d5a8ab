"""The expert's side of a camera switch, in real Chromium (docs/customer-page.md, "Phone basics").

Chromium's fake capture gives more cameras with ``--use-fake-device-for-media-stream=device-count=N``
(its own test pattern, not the clip: a file given with ``--use-file-for-fake-video-capture`` makes
one camera only, measured). Its second fake camera is a depth camera (16-bit grey, ``Y16``): it
shows in a <video>, but WebRTC sends none of its frames (measured: the sender's ``media-source``
frame count stops and the expert's picture freezes). Its third is a colour camera again (``MJPEG``),
as a phone's second camera is. So the test taps "Switch camera" twice, first camera -> depth camera
-> third camera, and asserts on the expert's side after the second tap: the page put the third
camera's track on the same video sender (``replaceTrack``), and the expert's picture keeps going,
new frames and not the last frame frozen.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

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
from tests.e2e.test_phone_basics import PHONE, PHONE_STATE

# Chromium's fake pattern is a still background with a small moving figure and a clock, so a new
# frame differs from the last in a few hundred pixels; a frozen picture is drawn the same each time.
# A picture is new when more than CHANGED_PIXELS pixels moved by more than CHANGE_LEVELS (of 255).
CHANGED_PIXELS = 50
CHANGE_LEVELS = 24
# The expert's picture keeps going: this many new frames in WATCH_S seconds.
NEW_FRAMES = 5
WATCH_S = 5.0
SENDER_TRACK = """() => window.repairsight.pc.getSenders().filter((s) => s.track && s.track.kind === 'video')
  .map((s) => ({label: s.track.label, state: s.track.readyState}))"""


def three_camera_args(clip: Clip) -> list[str]:
    """The e2e flags with Chromium's three fake cameras in place of the clip."""
    args = [a for a in chromium_args(clip.y4m) if not a.startswith("--use-f")]
    return [*args, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=device-count=3"]


def expert_picture(expert: Any) -> np.ndarray | None:
    return grab_video_frame(expert, "remote-video")


def new_frames(expert: Any, seconds: float) -> tuple[int, np.ndarray | None]:
    """How many times the expert's picture changed in ``seconds``, and the last picture."""
    changes = 0
    last = expert_picture(expert)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.15)
        picture = expert_picture(expert)
        if picture is None:
            continue
        if last is None or picture.shape != last.shape:
            changes += 1
        else:
            moved = np.abs(picture.astype(np.int16) - last.astype(np.int16)).max(axis=2) > CHANGE_LEVELS
            changes += int(np.count_nonzero(moved) > CHANGED_PIXELS)
        last = picture
    return changes, last


def test_the_experts_picture_keeps_going_across_a_camera_switch(
    server: RunningServer, board_clip: Clip
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser: Any = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=three_camera_args(board_clip)
        )
        try:
            expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            customer = browser.new_context(**PHONE).new_page()
            errors: list[str] = []
            for page in (expert, customer):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
            _, customer_url = open_console_for_new_case(expert, server, "Switch camera, expert side")
            customer_joins(customer, customer_url)
            wait_until(lambda: expert_picture(expert) is not None, 20, "video at the expert")
            before, first = new_frames(expert, WATCH_S)
            assert before >= NEW_FRAMES, f"the first camera's picture is not moving ({before} new frames)"
            assert first is not None

            button = customer.get_by_test_id("switch-camera")
            wait_until(button.is_visible, 5, "the switch button")
            assert customer.evaluate(SENDER_TRACK) == [{"label": "fake_device_0", "state": "live"}]
            button.tap()  # to the depth camera, which WebRTC does not send
            wait_until(lambda: customer.evaluate(PHONE_STATE)["camera"]["switches"] == 1, 10, "the switch")
            assert customer.evaluate(SENDER_TRACK) == [{"label": "fake_device_1", "state": "live"}]
            on_depth, _ = new_frames(expert, 2.0)
            button.tap()
            wait_until(lambda: customer.evaluate(PHONE_STATE)["camera"]["switches"] == 2, 10, "the switch")
            # The same sender carries the third camera's live track; the first one was stopped, so
            # what moves at the expert now comes from the third.
            assert customer.evaluate(SENDER_TRACK) == [{"label": "fake_device_2", "state": "live"}]

            after, last = new_frames(expert, WATCH_S)
            assert after >= NEW_FRAMES, f"the expert's picture froze after the switch ({after} new frames)"
            assert last is not None and last.max() > 16, "the expert's picture is black"
            print(
                f"new frames at the expert: {before} in {WATCH_S} s on the first camera, {on_depth} in 2 s"
                f" on the depth camera, {after} in {WATCH_S} s on the third camera"
            )
            assert errors == []
        finally:
            browser.close()
