"""The customer's phone page as a person holds it: upright (390x844) and turned sideways (844x390).

A real mobile context (``is_mobile``, ``has_touch``) joins a live session through the real server
while the expert drives the procedure and the chat from the console. We check what the person
sees: how much of the screen is camera picture that nothing covers (sampled with
``document.elementFromPoint`` on a grid over the video), whether the step text is on screen in
full, whether the overlay canvas lies exactly over the video, whether an expert's chat line shows
up without scrolling, and what the page says while the device is not in view and once every step
is done. Screenshots of each state go to ``/tmp/customer-*.png`` for a person to look at.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    RunningServer,
    TwoPages,
    customer_joins,
    open_console_for_new_case,
    overlay_alpha_js,
    wait_until,
)

BOARD = "board-connector-reseat"
# The router procedure anchors on the printed ArUco mat, which the board clip never shows: the
# device stays "not found" for the whole session.
ROUTER = "router-cable-reseat"
PORTRAIT = {"width": 390, "height": 844}
LANDSCAPE = {"width": 844, "height": 390}

# Share of the viewport that must be camera picture nobody covers. Sideways the step text sits
# beside the picture, so the picture keeps most of the screen. Upright the status row and the
# open step sheet (at most 42 % of the height; its text is what the person reads next) share
# the rest; folded, the sheet keeps only the step title.
LANDSCAPE_MIN_VIDEO_SHARE = 0.60
PORTRAIT_MIN_VIDEO_SHARE = 0.50
PORTRAIT_FOLDED_MIN_VIDEO_SHARE = 0.70
# The step sheet lies beside or below the picture, not on it (a rounded corner at most).
MAX_SHEET_OVER_VIDEO = 0.02
# Text a person reads at arm's length while holding the phone.
MIN_STEP_TEXT_PX = 17.0
# The overlay is drawn in the video's element px: the canvas must lie on the video exactly.
CANVAS_TOLERANCE_PX = 1.0
SAMPLES_PER_SIDE = 24

PROCEDURE_STATE = "() => window.repairsight ? window.repairsight.procedure : null"
AR_LAST = "() => window.repairsight && window.repairsight.ar ? window.repairsight.ar.last : null"
# The overlay's alpha at the middle of each edge of the device's outline, read with the AR state
# it was drawn from in one evaluate (as test_ar_session.py does).
OUTLINE_ALPHA = (
    "() => { const ar = window.repairsight.ar.last; if (!ar || !ar.found) return null;"
    " const quad = ar.outline_frame_px; const mid = (p, q) => [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];"
    " const points = quad.map((p, i) => mid(p, quad[(i + 1) % 4]));"
    f" return ({overlay_alpha_js('overlay-canvas', 'local-video')})([points, ar.frame_size]); }}"
)

MEASURE_VIEW = f"""() => {{
  const GRID = {SAMPLES_PER_SIDE};
  const byTestId = (id) => document.querySelector(`[data-testid="${{id}}"]`);
  const video = byTestId('local-video');
  const canvas = byTestId('overlay-canvas');
  const sheet = byTestId('step-panel');
  const vw = window.innerWidth, vh = window.innerHeight;
  const plain = (r) => ({{left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                          width: r.width, height: r.height}});
  const box = video.getBoundingClientRect();
  let uncovered = 0;
  for (let i = 0; i < GRID; i += 1) {{
    for (let j = 0; j < GRID; j += 1) {{
      const x = box.left + ((i + 0.5) * box.width) / GRID;
      const y = box.top + ((j + 0.5) * box.height) / GRID;
      if (x < 0 || y < 0 || x >= vw || y >= vh) continue;
      if (document.elementFromPoint(x, y) === video) uncovered += 1;
    }}
  }}
  const sheetBox = sheet.getBoundingClientRect();
  const overlapX = Math.max(0, Math.min(sheetBox.right, box.right) - Math.max(sheetBox.left, box.left));
  const overlapY = Math.max(0, Math.min(sheetBox.bottom, box.bottom) - Math.max(sheetBox.top, box.top));
  const text = (id) => {{
    const node = byTestId(id);
    const r = node.getBoundingClientRect();
    const hit = r.width > 0 && r.height > 0
      ? document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, 12)) : null;
    return {{
      rect: plain(r),
      shown: Boolean(hit && node.contains(hit)) && getComputedStyle(node).visibility === 'visible',
      fontPx: parseFloat(getComputedStyle(node).fontSize),
      text: node.textContent,
    }};
  }};
  return {{
    viewport: [vw, vh],
    scrollWidth: document.documentElement.scrollWidth,
    scrollY: window.scrollY,
    video: plain(box),
    canvas: plain(canvas.getBoundingClientRect()),
    canvasPx: [canvas.width, canvas.height],
    dpr: window.devicePixelRatio,
    videoShare: ((uncovered / GRID ** 2) * box.width * box.height) / (vw * vh),
    sheet: plain(sheetBox),
    sheetOverVideo: (overlapX * overlapY) / (box.width * box.height),
    title: text('step-title'),
    instruction: text('step-instruction'),
  }};
}}"""

# Every text node that contains the given text, with where it is and whether a person sees it:
# its box inside the viewport and the element at its middle is the text's own element (not
# something on top of it). Signs over the video let taps through (pointer-events: none), which
# hit testing skips: the text's element takes pointer events for the one synchronous test.
TEXT_ON_SCREEN = """(needle) => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.includes(needle)) continue;
    const owner = node.parentElement;
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    const inside = r.width > 0 && r.height > 0 && r.left >= -0.5 && r.top >= -0.5
      && r.right <= vw + 0.5 && r.bottom <= vh + 0.5;
    const before = owner.style.pointerEvents;
    owner.style.pointerEvents = 'auto';
    const hit = inside ? document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) : null;
    owner.style.pointerEvents = before;
    const style = getComputedStyle(owner);
    const tagged = owner.closest('[data-testid]');
    found.push({
      testid: tagged ? tagged.dataset.testid : null,
      rect: [r.left, r.top, r.right, r.bottom],
      seen: inside && Boolean(hit) && (owner === hit || owner.contains(hit) || hit.contains(owner))
        && style.visibility === 'visible' && Number(style.opacity) > 0.9,
    });
  }
  return found;
}"""


@pytest.fixture
def phone_pages(browser: Any) -> TwoPages:
    """The expert at a desktop; the customer on a touch phone held upright."""
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    phone = browser.new_context(
        viewport=PORTRAIT, is_mobile=True, has_touch=True, device_scale_factor=2
    ).new_page()
    errors: list[str] = []
    for page in (expert, phone):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    return TwoPages(expert, phone, errors)


def show_as(page: Any, viewport: dict[str, int]) -> None:
    """Turn the phone (the viewport changes; the page is not reloaded) and look at the top."""
    page.set_viewport_size(viewport)
    page.evaluate("() => window.scrollTo(0, 0)")


def measure(page: Any, viewport: dict[str, int], name: str) -> dict[str, Any]:
    """Turn the phone, wait until the overlay has followed the video, measure, screenshot."""
    show_as(page, viewport)

    def settled() -> dict[str, Any] | None:
        view = page.evaluate(MEASURE_VIEW)
        canvas_on_video = all(
            abs(view["canvas"][side] - view["video"][side]) <= CANVAS_TOLERANCE_PX
            for side in ("left", "top", "width", "height")
        )
        return view if canvas_on_video else None

    try:
        view = wait_until(settled, 5, f"the overlay canvas over the video ({name})")
        # What the person sees of it: the outline drawn on the device's edges, not beside them.
        wait_until(
            lambda: min(page.evaluate(OUTLINE_ALPHA) or [0]) > 0, 10, f"the outline on the device ({name})"
        )
    finally:
        page.screenshot(path=f"/tmp/customer-{name}.png")
    video = view["video"]
    print(
        f"{name}: viewport {view['viewport'][0]}x{view['viewport'][1]}, "
        f"video {video['width']:.0f}x{video['height']:.0f} at ({video['left']:.0f}, {video['top']:.0f}), "
        f"uncovered video {view['videoShare']:.0%} of the viewport, "
        f"step sheet over the video {view['sheetOverVideo']:.0%}, "
        f"title {view['title']['fontPx']:.0f} px, instruction {view['instruction']['fontPx']:.0f} px"
    )
    return dict(view)


def assert_inside(rect: dict[str, float], outer: dict[str, float] | list[float], what: str) -> None:
    if isinstance(outer, list):
        outer = {"left": 0, "top": 0, "right": outer[0], "bottom": outer[1]}
    for side, sign in (("left", 1), ("top", 1), ("right", -1), ("bottom", -1)):
        assert sign * (rect[side] - outer[side]) >= -0.5, (
            f"{what} sticks out on the {side}: {rect} in {outer}"
        )


def assert_readable(view: dict[str, Any], part: str, name: str) -> None:
    text = view[part]
    assert text["shown"], f"{name}: the step {part} is hidden or covered: {text}"
    assert_inside(text["rect"], view["viewport"], f"{name}: the step {part}")
    assert_inside(text["rect"], view["sheet"], f"{name}: the step {part} (cut off by its sheet)")
    assert text["fontPx"] >= MIN_STEP_TEXT_PX, f"{name}: the step {part} is {text['fontPx']} px"


def assert_canvas_on_video(view: dict[str, Any], name: str) -> None:
    """The canvas's pixels match the video's box at the device pixel ratio (the page sizes it
    from the element's whole CSS px, so within one CSS px of a fractional box)."""
    ratio = min(view["dpr"], 3)
    for size, side in zip(view["canvasPx"], ("width", "height"), strict=True):
        assert abs(size - view["video"][side] * ratio) <= ratio * CANVAS_TOLERANCE_PX, (
            f"{name}: canvas {view['canvasPx']} px for a video of {view['video']} CSS px at {ratio}x"
        )


def start_with_procedure(pages: TwoPages, server: RunningServer, procedure: str) -> None:
    expert, phone = pages.expert, pages.customer
    _, customer_url = open_console_for_new_case(expert, server, "Sound card crackles")
    expert.get_by_test_id("procedure-select").select_option(procedure)
    customer_joins(phone, customer_url)


def test_camera_view_keeps_most_of_the_screen_upright_and_sideways(
    server: RunningServer, phone_pages: TwoPages
) -> None:
    expert, phone = phone_pages.expert, phone_pages.customer
    start_with_procedure(phone_pages, server, BOARD)
    # Step 2 has the longest text of the procedure (an instruction and a safety line) and, being
    # a manual step, stays put while we measure. The expert jumps there (vision may or may not
    # have completed step 1 yet).
    wait_until(
        lambda: (phone.evaluate(PROCEDURE_STATE) or {}).get("procedure"), 15, "the procedure at the customer"
    )
    expert.locator('[data-testid="step-item"][data-step-id="find-header"] button').click()
    wait_until(lambda: "Find header J5" in phone.get_by_test_id("step-title").inner_text(), 10, "step 2")
    wait_until(lambda: (phone.evaluate(AR_LAST) or {}).get("found"), 30, "the board found")

    upright = measure(phone, PORTRAIT, "portrait")
    sideways = measure(phone, LANDSCAPE, "landscape")
    for view, name, share in (
        (upright, "portrait", PORTRAIT_MIN_VIDEO_SHARE),
        (sideways, "landscape", LANDSCAPE_MIN_VIDEO_SHARE),
    ):
        assert view["scrollWidth"] <= view["viewport"][0], f"{name}: the page is wider than the screen"
        assert view["videoShare"] >= share, (
            f"{name}: only {view['videoShare']:.0%} of the screen is uncovered camera picture"
        )
        assert view["sheetOverVideo"] <= MAX_SHEET_OVER_VIDEO, (
            f"{name}: the step sheet covers {view['sheetOverVideo']:.0%} of the video"
        )
        assert_readable(view, "title", name)
        assert_readable(view, "instruction", name)
        assert_canvas_on_video(view, name)

    # Upright, a tap on the sheet's handle folds it to its title and gives the picture the room.
    show_as(phone, PORTRAIT)
    toggle = phone.get_by_test_id("step-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    toggle.tap()
    folded = measure(phone, PORTRAIT, "portrait-folded")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert_readable(folded, "title", "portrait, folded")
    assert not phone.get_by_test_id("step-instruction").is_visible(), "the folded sheet still shows the text"
    assert folded["videoShare"] >= PORTRAIT_FOLDED_MIN_VIDEO_SHARE, (
        f"folded: only {folded['videoShare']:.0%} of the screen is uncovered camera picture"
    )
    assert folded["videoShare"] > upright["videoShare"]
    assert_canvas_on_video(folded, "portrait, folded")

    # Sideways there is room for the text beside the picture, folded or not.
    assert_readable(measure(phone, LANDSCAPE, "landscape-after-fold"), "instruction", "landscape")

    # Back upright, a tap on the title (the whole head is the handle) opens the sheet again.
    show_as(phone, PORTRAIT)
    phone.get_by_test_id("step-title").tap()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert_readable(measure(phone, PORTRAIT, "portrait-unfolded"), "instruction", "portrait, unfolded")
    assert phone_pages.errors == []


def seen_on_screen(page: Any, text: str, testid: str | None = None) -> list[dict[str, Any]]:
    """The places where a person sees ``text`` now (optionally only inside element ``testid``)."""
    return [
        hit
        for hit in page.evaluate(TEXT_ON_SCREEN, text)
        if hit["seen"] and (testid is None or hit["testid"] == testid)
    ]


def box_of(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    return {
        "left": box["x"],
        "top": box["y"],
        "right": box["x"] + box["width"],
        "bottom": box["y"] + box["height"],
    }


def expert_says(expert: Any, text: str) -> None:
    expert.get_by_test_id("chat-input").fill(text)
    expert.get_by_test_id("chat-send").click()


def test_expert_chat_line_shows_where_the_customer_looks(
    server: RunningServer, phone_pages: TwoPages
) -> None:
    expert, phone = phone_pages.expert, phone_pages.customer
    start_with_procedure(phone_pages, server, BOARD)
    wait_until(lambda: "joined" in expert.get_by_test_id("presence").inner_text().lower(), 10, "presence")
    wait_until(lambda: phone.get_by_test_id("step-panel").is_visible(), 15, "the step sheet")
    button, unread = phone.get_by_test_id("chat-button"), phone.get_by_test_id("chat-unread")

    for viewport, name in ((PORTRAIT, "portrait"), (LANDSCAPE, "landscape")):
        show_as(phone, viewport)
        line = f"Switch the computer off first ({name})"
        expert_says(expert, line)
        seen = wait_until(
            lambda line=line: seen_on_screen(phone, line), 5, f"the chat line on screen ({name})"
        )
        phone.screenshot(path=f"/tmp/customer-chat-{name}.png")
        print(f"{name}: the expert's line is seen in {[(hit['testid'], hit['rect']) for hit in seen]}")
        assert phone.evaluate("() => window.scrollY") == 0, "the page scrolled by itself"

        # The chat button, on screen, counts the line until the customer reads it.
        assert unread.is_visible() and unread.inner_text().strip() == "1"
        assert_inside(box_of(button), [viewport["width"], viewport["height"]], f"{name}: the chat button")
        button.tap()
        wait_until(
            lambda line=line: seen_on_screen(phone, line, "chat-log"), 5, f"the chat log in view ({name})"
        )
        wait_until(lambda: not unread.is_visible(), 5, "the unread count cleared by reading")

        # While the chat is in view, a new line is read as it comes: nothing to count.
        follow_up = f"And unplug its power cord ({name})"
        expert_says(expert, follow_up)
        wait_until(
            lambda follow_up=follow_up: seen_on_screen(phone, follow_up, "chat-log"), 5, "the follow-up line"
        )
        assert not unread.is_visible(), "a line read in the open chat was counted as unread"
    assert phone_pages.errors == []


def test_device_sign_names_any_model_without_an_article(server: RunningServer, phone_pages: TwoPages) -> None:
    phone = phone_pages.customer
    start_with_procedure(phone_pages, server, ROUTER)
    sign = phone.get_by_test_id("device-not-found")
    wait_until(sign.is_visible, 30, "the sign to point the camera at the device")
    phone.screenshot(path="/tmp/customer-device-sign.png")
    text = " ".join(sign.inner_text().split())
    assert text == "Point the camera at your device: Any home router or small box"
    assert seen_on_screen(phone, "Any home router or small box", "device-not-found")

    # The same sentence for other models, and for a procedure that names none.
    phrases = phone.evaluate(
        """async (models) => {
          const { deviceSignText } = await import('/static/js/customer-ar.js');
          return models.map((model) => deviceSignText({ procedure: { device: model ? { model } : {} } }));
        }""",
        ["Creative PCI sound card (sample photo)", "ACME R-200 router", None],
    )
    assert phrases == [
        "Point the camera at your device: Creative PCI sound card (sample photo)",
        "Point the camera at your device: ACME R-200 router",
        "Point the camera at your device",
    ]
    assert phone_pages.errors == []


def test_customer_page_says_when_every_step_is_done(server: RunningServer, phone_pages: TwoPages) -> None:
    expert, phone = phone_pages.expert, phone_pages.customer
    start_with_procedure(phone_pages, server, BOARD)
    state = wait_until(
        lambda: (phone.evaluate(PROCEDURE_STATE) or {}).get("procedure") and phone.evaluate(PROCEDURE_STATE),
        15,
        "the procedure at the customer",
    )
    steps = state["procedure"]["steps"]
    title = phone.get_by_test_id("step-title")

    # The expert marks steps done (vision may do the first), one at a time as the console shows them.
    for _ in range(len(steps) + 1):
        done = expert.evaluate(PROCEDURE_STATE)["completed"]
        if len(done) == len(steps):
            break
        if len(done) == len(steps) - 1:
            # On the last step, not yet done: the page still shows that step.
            wait_until(lambda: title.inner_text() == steps[-1]["title"], 5, "the last step at the customer")
            assert phone.get_by_test_id("step-panel").get_attribute("data-state") != "done"
        expert.get_by_test_id("step-complete").click()
        wait_until(
            lambda done=done: len(expert.evaluate(PROCEDURE_STATE)["completed"]) > len(done), 5, "a step done"
        )
    wait_until(
        lambda: set((phone.evaluate(PROCEDURE_STATE) or {}).get("completed", [])) == {s["id"] for s in steps},
        5,
        "every step done at the customer",
    )

    wait_until(lambda: title.inner_text() == "All steps done", 5, "'All steps done' on the customer page")
    phone.screenshot(path="/tmp/customer-all-done.png")
    instruction = phone.get_by_test_id("step-instruction").inner_text()
    assert "the expert will tell you what happens next" in instruction.lower()
    assert phone.get_by_test_id("step-panel").get_attribute("data-state") == "done"
    assert seen_on_screen(phone, "All steps done", "step-title")
    assert seen_on_screen(phone, instruction, "step-instruction")

    # The expert goes back to look at a step again: the customer sees that step, not "all done".
    expert.get_by_test_id("step-previous").click()
    wait_until(lambda: title.inner_text() == steps[-2]["title"], 5, "the step the expert went back to")
    assert phone.get_by_test_id("step-panel").get_attribute("data-state") != "done"
    assert phone_pages.errors == []
