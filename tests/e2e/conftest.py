"""Real-browser end-to-end fixtures: a server process, a fake-camera clip and headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/install.sh --test``), driven
by the ``playwright`` package; Playwright's own browser download is never used. The customer's
camera is a ``.y4m`` clip made by ``tests/clipgen.py`` (the circuit board moving in perspective,
each frame carrying its number in its pixels); Chromium loops it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.clipgen import DATA_DIR, FakeCamera, load_image, write_clip
from tests.server_process import ServerProcess, add_user, cli, start_server

CHROMIUM = "/usr/bin/chromium"
EXPERT_USER, EXPERT_PASSWORD = "erin", "a long expert password"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class Clip:
    y4m: Path
    frames_bgr: list[np.ndarray]
    truth: dict  # type: ignore[type-arg]


@pytest.fixture(scope="session")
def board_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    out = tmp_path_factory.mktemp("clip") / "board.y4m"
    camera = FakeCamera(
        load_image(DATA_DIR / "board.jpg"),
        load_image(DATA_DIR / "leuvenA.jpg"),
        num_frames=150,
        frame_code=True,
    )
    json_path = write_clip(camera, out)
    frames = [f.bgr for f in camera.frames()]
    return Clip(out.resolve(), frames, json.loads(json_path.read_text()))


@dataclass
class RunningServer:
    process: ServerProcess
    data_dir: Path
    api_token: str

    @property
    def base_url(self) -> str:
        return self.process.base_url


@contextmanager
def e2e_server(tmp_path: Path, *extra_args: str) -> Iterator[RunningServer]:
    """A server with the expert's account and an API token of theirs; ``extra_args`` for ``serve``."""
    data_dir = tmp_path / "data"
    add_user(data_dir, EXPERT_USER, "expert", EXPERT_PASSWORD)
    token = cli(data_dir, "token", "create", "--user", EXPERT_USER).strip()
    process = start_server(data_dir, extra_args=extra_args)
    try:
        yield RunningServer(process, data_dir, token)
    finally:
        process.stop()
        if process.process.returncode not in (0, -15):
            print(process.log())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with e2e_server(tmp_path) as running:
        yield running


def chromium_args(camera_clip: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_clip}",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",
    ]


@pytest.fixture
def browser(board_clip: Clip) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install.sh --test (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args(board_clip.y4m)
        )
        try:
            yield launched
        finally:
            launched.close()


VIDEO_PIXELS_JS = """(testid) => {
  const video = document.querySelector(`[data-testid="${testid}"]`);
  // Until the first frame is decoded (HAVE_CURRENT_DATA) the size may be known but the picture
  // drawn is black: a person sees no picture yet, and neither does the test.
  if (!video || !video.videoWidth || video.readyState < 2) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.toDataURL('image/png');
}"""


def grab_video_frame(page: object, testid: str) -> np.ndarray | None:
    """The picture a person sees in a <video>, at its intrinsic size, as BGR."""
    data_url = page.evaluate(VIDEO_PIXELS_JS, testid)  # type: ignore[attr-defined]
    if not data_url:
        return None
    png = base64.b64decode(data_url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def close(a: Any, b: Any, tolerance: float) -> bool:
    """Nested lists of numbers equal within ``tolerance`` (a JS result against a shared vector); other
    values exactly equal."""
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(close(x, y, tolerance) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float | int) and not isinstance(a, bool):
        return isinstance(b, float | int) and not isinstance(b, bool) and abs(a - b) <= tolerance
    return bool(a == b)


def wait_until(check: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def open_console_for_new_case(expert: Any, server: RunningServer, title: str) -> tuple[str, str]:
    """As an expert does it: sign in, create a case, start a session, open the console.

    Returns the session id and the customer link shown on the console home."""
    expert.goto(server.base_url + "/")
    expert.get_by_test_id("login-username").fill(EXPERT_USER)
    expert.get_by_test_id("login-password").fill(EXPERT_PASSWORD)
    expert.get_by_test_id("login-submit").click()
    expert.get_by_test_id("case-title").fill(title)
    expert.get_by_test_id("create-case").click()
    expert.get_by_test_id("start-session").click()
    link = expert.get_by_test_id("customer-link")
    link.wait_for()
    customer_url = link.text_content().strip()
    assert customer_url.startswith(server.base_url + "/join/")
    # The test server is on 127.0.0.1, which no phone can open: the page says so, and how to fix it.
    assert "--host 0.0.0.0 --self-signed" in (expert.get_by_test_id("link-warning").text_content() or "")
    expert.get_by_test_id("open-console").click()
    expert.wait_for_url("**/console/*")
    return expert.url.rsplit("/", 1)[1], customer_url


def end_session(expert: Any) -> None:
    """As the expert does it: End session, then confirm in the question that follows."""
    expert.get_by_test_id("end-session").click()
    expert.get_by_test_id("end-session-confirm").click()


def customer_joins(customer: Any, customer_url: str) -> float:
    """The customer opens the link, consents and starts the camera; returns when they clicked."""
    customer.goto(customer_url)
    customer.get_by_test_id("consent-checkbox").check()
    clicked = time.monotonic()
    customer.get_by_test_id("join-button").click()
    wait_until(
        lambda: customer.evaluate("() => document.querySelector('[data-testid=local-video]').videoWidth > 0"),
        15,
        "the customer's own camera preview",
    )
    return clicked


def overlay_alpha_js(canvas_testid: str, video_testid: str) -> str:
    """JS ``([points, frameSize]) => alphas``: the most opaque overlay pixel near each frame point.

    Frame points are mapped to the canvas the way the pages draw: the frame fills the video's
    box as ``object-fit: contain`` does (letterboxed), at the canvas's device-pixel ratio.
    """
    return f"""([points, frameSize]) => {{
  const canvas = document.querySelector('[data-testid="{canvas_testid}"]');
  const video = document.querySelector('[data-testid="{video_testid}"]');
  const box = video.getBoundingClientRect(), cbox = canvas.getBoundingClientRect();
  const scale = Math.min(box.width / frameSize[0], box.height / frameSize[1]);
  const offX = box.left - cbox.left + (box.width - frameSize[0] * scale) / 2;
  const offY = box.top - cbox.top + (box.height - frameSize[1] * scale) / 2;
  const ctx = canvas.getContext('2d');
  const ratio = canvas.width / cbox.width;
  return points.map(([x, y]) => {{
    const px = Math.round((offX + x * scale) * ratio), py = Math.round((offY + y * scale) * ratio);
    const d = ctx.getImageData(Math.max(0, px - 3), Math.max(0, py - 3), 7, 7).data;
    let alpha = 0;
    for (let i = 3; i < d.length; i += 4) alpha = Math.max(alpha, d[i]);
    return alpha;
  }});
}}"""


@dataclass
class TwoPages:
    """The expert's desktop page and the customer's phone page, with the script errors of both."""

    expert: Any
    customer: Any
    errors: list[str]


@pytest.fixture
def pages(browser: Any) -> TwoPages:
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    errors: list[str] = []
    for page in (expert, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    return TwoPages(expert, customer, errors)


AR_FROZEN = "() => window.repairsight && window.repairsight.ar ? window.repairsight.ar.frozen : null"
ELEMENT_POINT = """([x, y, frameSize]) => {
  const canvas = document.querySelector('[data-testid="overlay-canvas"]');
  const video = canvas.parentElement.querySelector('video');
  const box = video.getBoundingClientRect();
  const scale = Math.min(box.width / frameSize[0], box.height / frameSize[1]);
  return [box.left + (box.width - frameSize[0] * scale) / 2 + x * scale,
          box.top + (box.height - frameSize[1] * scale) / 2 + y * scale];
}"""


def project(h: list[list[float]], point: tuple[float, float]) -> tuple[float, float]:
    """A reference point in frame px through homography ``h`` (reference px -> frame px)."""
    x, y, w = np.array(h) @ np.array([point[0], point[1], 1.0])
    return float(x / w), float(y / w)


def draw_arrow_on_frozen_frame(
    expert: Any, from_ref: tuple[float, float], to_ref: tuple[float, float]
) -> dict[str, Any]:
    """As the expert does it: freeze the frame, pick the arrow tool, drag from one device point to
    another (reference px, placed through the frozen frame's homography), unfreeze. Returns the
    frozen AR state."""
    expert.get_by_test_id("freeze-frame").click()
    ar = wait_until(lambda: expert.evaluate(AR_FROZEN), 5, "the frozen frame's AR state")
    expert.get_by_test_id("tool-arrow").click()
    x0, y0 = expert.evaluate(ELEMENT_POINT, [*project(ar["homography"], from_ref), ar["frame_size"]])
    x1, y1 = expert.evaluate(ELEMENT_POINT, [*project(ar["homography"], to_ref), ar["frame_size"]])
    expert.mouse.move(x0, y0)
    expert.mouse.down()
    expert.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    expert.mouse.move(x1, y1)
    expert.mouse.up()
    expert.get_by_test_id("tool-arrow").click()  # put the tool down
    expert.get_by_test_id("freeze-frame").click()  # back to live
    return dict(ar)
