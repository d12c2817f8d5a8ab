"""The customer's page in the customer's language, in real Chromium on a phone-sized page: German
and Arabic chosen from the browser's Accept-Language (Arabic right to left, the page mirrored), the
intro, the consent and the live page in that language, the picker's choice kept across a reload, and
the expert told which language the customer has."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import RunningServer, open_console_for_new_case, wait_until


def phone(browser: Any, locale: str, errors: list[str]) -> Any:
    page = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, locale=locale
    ).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def text_of(page: Any, testid: str) -> str:
    return (page.get_by_test_id(testid).text_content() or "").strip()


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not on screen"
    return found


def join_and_wait_for_the_expert(customer: Any, expert_connected: str) -> None:
    customer.get_by_test_id("consent-checkbox").check()
    customer.get_by_test_id("join-button").click()
    wait_until(
        lambda: text_of(customer, "presence") == expert_connected, 20, f"presence {expert_connected!r}"
    )


def test_german_from_accept_language_and_the_picker_remembered(browser: Any, server: RunningServer) -> None:
    errors: list[str] = []
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _, customer_url = open_console_for_new_case(expert, server, "Waschmaschine")
    customer = phone(browser, "de-DE", errors)
    customer.goto(customer_url)

    # The intro and the consent, in German, left to right.
    wait_until(lambda: customer.evaluate("document.documentElement.lang") == "de", 10, "the page in German")
    assert customer.evaluate("document.documentElement.dir") == "ltr"
    assert customer.locator("#intro-heading").text_content() == "Zeigen Sie Ihr Gerät einem Experten"
    assert customer.locator("#intro-steps li").first.text_content() == (
        "Tippen Sie auf Kamera starten und erlauben Sie Kamera und Mikrofon."
    )
    assert customer.locator("#intro-steps strong").text_content() == "Kamera starten"  # the markup survives
    assert (
        "Ich bin einverstanden, dass diese Sitzung aufgezeichnet wird"
        in customer.locator("#consent-block").inner_text()
    )
    assert text_of(customer, "join-button") == "Kamera starten"
    assert customer.title() == "Videohilfe · RepairSight"
    picker = customer.get_by_test_id("language-picker")
    assert picker.is_visible() and picker.input_value() == "de"
    assert picker.get_attribute("aria-label") == "Sprache"

    # The picker switches at once, and the choice outlasts a reload.
    picker.select_option("es")
    wait_until(
        lambda: customer.locator("#intro-heading").text_content() == "Muestre su aparato a un experto",
        5,
        "Spanish",
    )
    customer.reload()
    wait_until(
        lambda: customer.evaluate("document.documentElement.lang") == "es", 10, "Spanish after the reload"
    )
    assert customer.locator("#intro-heading").text_content() == "Muestre su aparato a un experto"
    assert customer.get_by_test_id("language-picker").input_value() == "es"
    customer.get_by_test_id("language-picker").select_option("de")
    wait_until(lambda: text_of(customer, "join-button") == "Kamera starten", 5, "German again")

    # The live page in German, and the expert told the customer's language.
    join_and_wait_for_the_expert(customer, "Experte verbunden")
    wait_until(
        lambda: text_of(customer, "recording-badge") == "Aufnahme läuft", 10, "the German recording badge"
    )
    assert customer.locator("#chat-heading").text_content() == "Chat mit dem Experten"
    assert customer.get_by_test_id("chat-input").get_attribute("placeholder") == "Nachricht schreiben"
    assert text_of(customer, "chat-send") == "Senden"
    wait_until(
        lambda: text_of(expert, "customer-language") == "Customer's language: German (de)",
        10,
        "the expert told",
    )
    expert.get_by_test_id("chat-input").fill("Hallo!")
    expert.get_by_test_id("chat-send").click()
    wait_until(
        lambda: "Experte:" in (customer.get_by_test_id("chat-log").text_content() or ""), 10, "a chat line"
    )
    assert errors == []


def test_arabic_is_right_to_left_and_the_page_mirrors(browser: Any, server: RunningServer) -> None:
    errors: list[str] = []
    expert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _, customer_url = open_console_for_new_case(expert, server, "غسالة")
    customer = phone(browser, "ar-EG", errors)
    customer.goto(customer_url)

    wait_until(
        lambda: customer.evaluate("document.documentElement.dir") == "rtl", 10, "the page right to left"
    )
    assert customer.evaluate("document.documentElement.lang") == "ar"
    assert customer.locator("#intro-heading").text_content() == "اعرض جهازك على خبير"
    assert "أوافق على تسجيل هذه الجلسة" in customer.locator("#consent-block").inner_text()
    assert text_of(customer, "join-button") == "تشغيل الكاميرا"
    # Mirrored: the brand at the right of the bar, the picker at its left; the text starts at the right.
    brand, picker = box(customer, ".topbar .brand"), box(customer, "[data-testid=language-picker]")
    assert brand["x"] > picker["x"] + picker["width"] - 1, (brand, picker)
    assert brand["x"] + brand["width"] > 390 - 40
    heading = customer.evaluate(
        """() => { const r = document.createRange();
                   r.selectNodeContents(document.getElementById('intro-heading'));
                   const b = r.getBoundingClientRect(); return [b.left, b.right]; }"""
    )
    assert heading[1] > 390 - 40 and heading[0] > 40, heading  # a short line hugs the right edge
    assert (
        customer.evaluate("getComputedStyle(document.querySelector('.customer .steps')).direction") == "rtl"
    )

    # The live page in Arabic, still mirrored: the status at the right, the Chat button left of it.
    join_and_wait_for_the_expert(customer, "الخبير متصل")
    wait_until(
        lambda: text_of(customer, "recording-badge") == "جارٍ التسجيل", 10, "the Arabic recording badge"
    )
    assert text_of(customer, "chat-button") == "الدردشة"
    presence, chat = box(customer, "[data-testid=presence]"), box(customer, "[data-testid=chat-button]")
    assert presence["x"] > chat["x"], (presence, chat)
    wait_until(
        lambda: text_of(expert, "customer-language") == "Customer's language: Arabic (ar)",
        10,
        "the expert told",
    )
    assert errors == []
