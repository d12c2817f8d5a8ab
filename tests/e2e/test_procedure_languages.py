"""The procedure in the customer's language, in real Chromium through the real server: a customer
whose browser asks for German reads the board procedure's step in German and sees the step's overlay
label drawn in German on its camera picture, while the expert's console shows the same step and
label in English; after a reload the customer picks Arabic on the rejoin question, and the step,
its label and the page (right to left) follow while the expert stays in English."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RunningServer, customer_joins, open_console_for_new_case, wait_until

PROCEDURE = "board-connector-reseat"
PROCEDURE_STATE = "() => window.repairsight && window.repairsight.procedure"

# Every text drawn on a page's overlay canvas, newest last: what a person sees written on the video
# (the label boxes' texts; overlay.js draws them with fillText).
RECORD_OVERLAY_TEXT = """(() => {
  const drawn = [];
  window.__overlayTexts = drawn;
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    if (this.canvas && this.canvas.dataset && this.canvas.dataset.testid === 'overlay-canvas') {
      drawn.push(String(text));
      if (drawn.length > 400) drawn.splice(0, drawn.length - 400);
    }
    return fillText.call(this, text, ...rest);
  };
})();"""


def drawn_recently(page: Any, text: str) -> bool:
    """``text`` is among the last texts drawn on the overlay (it is redrawn with every frame)."""
    return bool(page.evaluate("(text) => (window.__overlayTexts || []).slice(-40).includes(text)", text))


def overlay_label_box_shown(page: Any) -> bool:
    """Some label box is painted on the overlay (its dark background, overlay.js COLORS.labelBg)."""
    return bool(
        page.evaluate(
            """() => { const c = document.querySelector('[data-testid=overlay-canvas]');
                       const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       for (let i = 0; i < d.length; i += 4) {
                         if (d[i] === 10 && d[i + 1] === 16 && d[i + 2] === 24 && d[i + 3] > 200) return true;
                       }
                       return false; }"""
        )
    )


def step_title(page: Any) -> str:
    return (page.get_by_test_id("step-title").text_content() or "").strip()


def test_the_customer_reads_the_steps_and_labels_in_its_language(browser: Any, server: RunningServer) -> None:
    errors: list[str] = []
    expert_context = browser.new_context(viewport={"width": 1280, "height": 800})
    expert_context.add_init_script(RECORD_OVERLAY_TEXT)
    expert = expert_context.new_page()
    customer_context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale="de-DE"
    )
    customer_context.add_init_script(RECORD_OVERLAY_TEXT)
    customer = customer_context.new_page()
    for page in (expert, customer):
        page.on("pageerror", lambda exc: errors.append(str(exc)))

    _, customer_url = open_console_for_new_case(expert, server, "Soundkarte knackt")
    expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
    customer_joins(customer, customer_url)
    assert customer.evaluate("document.documentElement.lang") == "de"

    # Vision sees the board and completes the first step; step 2 names header J5 and the crystal X1.
    for page in (expert, customer):
        wait_until(
            lambda page=page: (page.evaluate(PROCEDURE_STATE) or {}).get("step_id") == "find-header",
            30,
            "vision to complete the first step",
        )
    wait_until(lambda: step_title(customer) == "Stiftleiste J5 finden", 10, "the German step title")
    assert "Die Stiftleiste J5 ist der kleine dreipolige Anschluss" in (
        customer.get_by_test_id("step-instruction").text_content() or ""
    )
    assert "⚠ Schalten Sie zuerst den Computer aus" in (customer.get_by_test_id("step-panel").inner_text())
    assert (expert.locator("#current-step-title").text_content() or "").strip() == "Find header J5"

    # The step's label on the video: German on the customer's camera picture, English for the expert.
    wait_until(lambda: drawn_recently(customer, "Quarz X1"), 15, "'Quarz X1' drawn on the customer's video")
    assert not drawn_recently(customer, "X1 crystal")
    assert overlay_label_box_shown(customer)
    wait_until(lambda: drawn_recently(expert, "X1 crystal"), 15, "'X1 crystal' drawn on the expert's video")
    assert not drawn_recently(expert, "Quarz X1")
    ar_labels = customer.evaluate("() => window.repairsight.ar.last.annotations.map((a) => a.label)")
    assert "Quarz X1" in ar_labels and "X1 crystal" not in ar_labels

    # The picker (on the page's top bar, which the live call hides): the customer reloads, picks
    # Arabic on the rejoin question and taps to rejoin; the page is right to left, and the step and
    # its label follow. The expert is told and stays in English.
    customer.reload()
    customer.get_by_test_id("language-picker").select_option("ar")
    wait_until(
        lambda: customer.evaluate("document.documentElement.dir") == "rtl", 10, "the page right to left"
    )
    customer.get_by_test_id("rejoin-recorded").click()
    wait_until(lambda: step_title(customer) == "اعثر على الموصل J5", 20, "the Arabic step title")
    assert (
        customer.evaluate("getComputedStyle(document.querySelector('[data-testid=step-title]')).direction")
        == "rtl"
    )
    assert "⚠ أطفئ الكمبيوتر أولًا وافصل سلك الطاقة." in customer.get_by_test_id("step-panel").inner_text()
    wait_until(
        lambda: drawn_recently(customer, "البلورة X1"), 30, "the Arabic label drawn on the customer's video"
    )
    assert not drawn_recently(customer, "Quarz X1") and not drawn_recently(customer, "X1 crystal")
    wait_until(
        lambda: (
            (expert.get_by_test_id("customer-language").text_content() or "").strip()
            == "Customer's language: Arabic (ar)"
        ),
        10,
        "the expert told the new language",
    )
    assert (expert.locator("#current-step-title").text_content() or "").strip() == "Find header J5"
    wait_until(lambda: drawn_recently(expert, "X1 crystal"), 15, "the expert's label still in English")
    assert not drawn_recently(expert, "البلورة X1")

    # The next step, chosen by the expert: the customer reads it in Arabic too.
    expert.get_by_test_id("step-next").click()
    wait_until(lambda: step_title(customer) == "اضغط القابس إلى الأسفل", 10, "step 3 in Arabic")
    assert (expert.locator("#current-step-title").text_content() or "").strip() == "Press the plug down"
    assert errors == []
