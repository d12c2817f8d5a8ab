"""The customer page's languages: choosing one from ``Accept-Language``, the catalogs (built-in and a
site's), and the two routes that serve them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.languages import (
    BUILTIN_LOCALES_DIR,
    CatalogError,
    Catalogs,
    negotiate,
    parse_accept_language,
    read_catalog,
)

CLIENT_WEB = BUILTIN_LOCALES_DIR.parent
SHIPPED = {"en", "de", "fr", "es", "pt", "hi", "ar"}
BUILTIN = ["ar", "de", "en", "es", "fr", "hi", "pt"]


# --- choosing a language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("ar", "ar"),
        ("fr-CA", "fr"),  # a region takes its language
        ("PT-br, en;q=0.5", "pt"),  # case does not matter
        ("ja, es;q=0.7, de;q=0.9", "de"),  # by weight, not order
        ("es;q=0.5, fr;q=0.5", "es"),  # equal weights: the first
        ("de;q=0, fr", "fr"),  # q=0: not this one
        ("ja, zh", "en"),  # nothing available: the default
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("de;q=abc, ;;, 12345, hi", "hi"),  # what does not parse is skipped
        ("x" * 5000, "en"),
    ],
)
def test_negotiate_takes_the_most_wanted_language_there_is(header: str | None, chosen: str) -> None:
    assert negotiate(header, BUILTIN) == chosen


def test_a_bare_language_takes_a_regional_catalog_when_that_is_all_there_is() -> None:
    assert negotiate("pt", ["en", "pt-BR"]) == "pt-BR"
    assert negotiate("pt-PT, pt;q=0.9", ["en", "pt-BR", "pt-PT"]) == "pt-PT"
    assert negotiate("pt-br", ["en", "pt-BR", "pt"]) == "pt-BR"


def test_parse_accept_language_orders_by_weight() -> None:
    assert parse_accept_language("en;q=0.1, de, fr;q=0.5, es;q=2") == ["de", "fr", "en"]


# --- the catalogs -------------------------------------------------------------------------------


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_the_shipped_languages_have_every_message_with_the_same_placeholders() -> None:
    english = read_catalog(BUILTIN_LOCALES_DIR / "en.json")
    assert {language.code for language in Catalogs().languages()} >= SHIPPED
    for code in SHIPPED:
        messages = read_catalog(BUILTIN_LOCALES_DIR / f"{code}.json")
        for key, text in english.items():
            plural_base = key.rsplit(".", 1)[0] if key.endswith((".one", ".other")) else None
            if plural_base:
                assert f"{plural_base}.other" in messages, (code, key)
                continue
            assert key in messages, f"{code}.json has no {key!r}"
            assert placeholders(messages[key]) == placeholders(text), (code, key)
        assert set(messages) - set(english) <= {
            k for k in messages if re.search(r"\.(zero|one|two|few|many|other)$", k)
        }, code


def test_the_scripts_use_only_messages_english_has() -> None:
    """Every literal key of a ``t('…')`` or ``setText(node, '…')`` in the customer's scripts and every
    ``data-i18n`` of its pages (the customer and self-help pages) is in en.json (a typo would show the
    key to the customer)."""
    english = read_catalog(BUILTIN_LOCALES_DIR / "en.json")
    plural_bases = {key.rsplit(".", 1)[0] for key in english if key.endswith(".other")}
    used: set[str] = set()
    for path in (CLIENT_WEB / "js").glob("*.js"):
        script = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([\w.]+)'", script))
        used |= set(re.findall(r"\bsetText\([^,]+, '([\w.]+)'", script))
    for name in ("customer.html", "help.html"):
        page = (CLIENT_WEB / name).read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n="([\w.]+)"', page))
        used |= {
            key
            for attrs in re.findall(r'data-i18n-attr="([^"]+)"', page)
            for key in re.findall(r":([\w.]+)", attrs)
        }
    assert len(used) > 40
    assert sorted(key for key in used if key not in english and key not in plural_bases) == []


def test_arabic_is_right_to_left_and_the_others_left_to_right() -> None:
    directions = {language.code: language.dir for language in Catalogs().languages()}
    assert directions["ar"] == "rtl"
    assert {directions[code] for code in SHIPPED - {"ar"}} == {"ltr"}


def write(path: Path, data: object) -> Path:
    path.write_text(
        json.dumps(data, ensure_ascii=False) if not isinstance(data, str) else data, encoding="utf-8"
    )
    return path


def test_a_site_overrides_messages_and_adds_languages_without_code(tmp_path: Path) -> None:
    write(tmp_path / "de.json", {"intro.heading": "Zeigen Sie uns Ihre Heizung"})
    write(tmp_path / "nl.json", {"language.name": "Nederlands", "intro.heading": "Laat uw apparaat zien"})
    catalogs = Catalogs(tmp_path)
    german = catalogs.messages("de")
    assert german is not None
    assert german["intro.heading"] == "Zeigen Sie uns Ihre Heizung"  # the site's word wins
    assert german["intro.startCamera"] == "Kamera starten"  # the rest stays built in
    assert "nl" in {language.code for language in catalogs.languages()}
    assert negotiate("nl-BE", [language.code for language in catalogs.languages()]) == "nl"


def test_a_broken_site_file_is_left_out_and_the_built_in_text_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "de.json", "{not json")
    write(tmp_path / "fr.json", {"intro.heading": 12})
    write(tmp_path / "not a tag.json", {})
    catalogs = Catalogs(tmp_path)
    german, french = catalogs.messages("de"), catalogs.messages("fr")
    assert german is not None and german["intro.heading"] == "Zeigen Sie Ihr Gerät einem Experten"
    assert french is not None and french["intro.heading"] == "Montrez votre appareil à un expert"
    logged = caplog.text
    assert "de.json: not JSON" in logged and "'intro.heading' is not a string" in logged
    assert "not named after a language tag" in logged


def test_read_catalog_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="one JSON object"):
        read_catalog(write(tmp_path / "a.json", ["x"]))
    with pytest.raises(CatalogError, match="cannot be read"):
        read_catalog(tmp_path / "missing.json")


def test_an_unknown_or_odd_language_has_no_messages() -> None:
    catalogs = Catalogs()
    assert catalogs.messages("xx") is None
    assert catalogs.messages("../en") is None
    assert catalogs.messages("") is None


# --- over HTTP ----------------------------------------------------------------------------------


def test_the_routes_choose_by_accept_language_and_serve_a_catalog(client: TestClient) -> None:
    listing = client.get("/locales", headers={"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"})
    assert listing.status_code == 200
    body = listing.json()
    assert body["chosen"] == "ar" and body["default"] == "en"
    assert {"code": "ar", "name": "العربية", "dir": "rtl"} in body["languages"]
    assert client.get("/locales", headers={"Accept-Language": "de-CH"}).json()["chosen"] == "de"

    catalog = client.get("/locales/de.json")
    assert catalog.status_code == 200
    assert catalog.json()["dir"] == "ltr"
    assert (
        catalog.json()["messages"]["consent.agree"]
        == "Ich bin einverstanden, dass diese Sitzung aufgezeichnet wird"
    )

    missing = client.get("/locales/xx.json")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_language"


def test_the_routes_read_the_sites_directory(tmp_path: Path) -> None:
    site = tmp_path / "locales"
    site.mkdir()
    write(site / "es.json", {"intro.heading": "Enséñenos su caldera"})
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", locales_dir=site))
    try:
        with TestClient(app) as client:
            assert (
                client.get("/locales/es.json").json()["messages"]["intro.heading"] == "Enséñenos su caldera"
            )
            # Read at each request: a site's change shows without a restart.
            write(site / "es.json", {"intro.heading": "Enséñenos su horno"})
            assert client.get("/locales/es.json").json()["messages"]["intro.heading"] == "Enséñenos su horno"
    finally:
        app.state.services.db.close()


# --- the serve flag -----------------------------------------------------------------------------


def test_serve_locales_must_be_a_directory_and_comes_from_the_flag_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.cli.common import CliError
    from server.cli.options import ServeOptions
    from server.cli.serve import locales_dir

    assert locales_dir(ServeOptions(locales=tmp_path)) == tmp_path
    assert locales_dir(ServeOptions()) is None
    with pytest.raises(CliError, match="--locales .*: not a directory"):
        locales_dir(ServeOptions(locales=tmp_path / "typo"))
    monkeypatch.setenv("REPAIRSIGHT_LOCALES", str(tmp_path))
    assert ServeOptions().locales == tmp_path
