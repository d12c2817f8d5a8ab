"""The self-help page in the customer's language, in real Chromium on a phone-sized page
(docs/self-help.md, "Languages"): German from the browser's Accept-Language, the picker switching to
Arabic (right to left, its plural forms) and remembered across a reload, the live page and the
queue line in German, and a withdrawn link's page in German too."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import RunningServer, wait_until
from tests.e2e.test_languages import phone, text_of

BOARD = "board-connector-reseat"  # four steps


def test_the_self_help_page_in_german_then_arabic_and_its_queue_in_german(
    browser: Any, server: RunningServer
) -> None:
    errors: list[str] = []
    staff = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=staff, timeout=30) as client:
        link = client.post(f"/api/procedures/{BOARD}/self-help", json={}).json()
        customer = phone(browser, "de-DE", errors)
        customer.goto(link["url"])

        # What will happen, in German, from Accept-Language.
        wait_until(lambda: customer.evaluate("document.documentElement.lang") == "de", 10, "German")
        wait_until(lambda: text_of(customer, "step-total") != "", 10, "the procedure on the intro")
        assert text_of(customer, "procedure-title").startswith("Selbst reparieren: ")
        assert customer.locator(".topbar").inner_text().startswith("RepairSight")
        assert "Selbst reparieren" in customer.locator(".topbar").inner_text()
        assert customer.locator(".steps li").first.text_content() == (
            "Tippen Sie auf Start und erlauben Sie Kamera und Mikrofon."
        )
        assert customer.locator(".steps li").nth(3).locator("strong").text_content() == (
            "Mit einem Experten sprechen"
        )  # the markup survives
        assert text_of(customer, "step-total") == "4 Schritte, ein paar Minuten."
        assert text_of(customer, "device-line").startswith("Für: ")
        assert "Ich bin einverstanden" in customer.locator("#consent-block").inner_text()
        assert text_of(customer, "selfhelp-start") == "Start"
        assert customer.title().endswith(" · RepairSight")

        # The picker: Arabic at once (right to left, Arabic's plural for four), kept after a reload.
        picker = customer.get_by_test_id("language-picker")
        assert picker.is_visible() and picker.input_value() == "de"
        picker.select_option("ar")
        wait_until(lambda: customer.evaluate("document.documentElement.dir") == "rtl", 5, "right to left")
        assert text_of(customer, "procedure-title").startswith("أصلحه بنفسك: ")
        assert text_of(customer, "step-total") == "4 خطوات، بضع دقائق."
        assert text_of(customer, "selfhelp-start") == "ابدأ"
        brand, heading = customer.locator(".brand").bounding_box(), customer.locator("h1").bounding_box()
        assert brand and heading and brand["x"] > 390 / 2, "the brand is not at the right of the bar"
        customer.reload()
        wait_until(lambda: customer.evaluate("document.documentElement.lang") == "ar", 10, "Arabic again")
        assert customer.get_by_test_id("language-picker").input_value() == "ar"

        # Back to German, then live: the status, the buttons and the place in the queue.
        customer.get_by_test_id("language-picker").select_option("de")
        wait_until(lambda: text_of(customer, "selfhelp-start") == "Start", 5, "German again")
        customer.get_by_test_id("consent-checkbox").check()
        customer.get_by_test_id("selfhelp-start").click()
        wait_until(lambda: text_of(customer, "presence") == "Geführte Reparatur", 20, "the run, in German")
        assert text_of(customer, "escalate-button") == "Mit einem Experten sprechen"
        assert text_of(customer, "chat-send") == "Senden"
        customer.get_by_test_id("escalate-button").click()
        wait_until(
            lambda: text_of(customer, "queue-position").startswith(
                "Sie sind als Nächstes für einen Experten an der Reihe. Etwa 2 Min. Wartezeit."
            ),
            10,
            "the place in the queue, in German",
        )
        assert text_of(customer, "presence") == "Warten auf einen Experten…"

        # A withdrawn link: its page (the server's, no script) in German too.
        assert client.post(f"/api/self-help/links/{link['id']}/revoke").status_code == 200
        customer.goto(link["url"])
        assert customer.locator("h1").text_content() == "Dieser Link funktioniert nicht mehr"
        assert customer.evaluate("document.documentElement.lang") == "de"
    assert errors == []
