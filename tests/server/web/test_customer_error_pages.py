"""The plain pages a customer lands on instead of theirs (an unknown, expired or withdrawn link, an ended
session, a database that cannot answer) in the language of their browser's ``Accept-Language``, from
the catalogs a site can extend (``server/web/customer_pages.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.languages import BUILTIN_LOCALES_DIR, read_catalog
from server.records import accounts
from server.web.pages import LINK_PROBLEM_PAGES
from server.web.selfhelp_api import LINK_PROBLEM_PAGES as HELP_LINK_PROBLEM_PAGES

PROCEDURE = "board-connector-reseat"


def heading(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r"<h1>(.*?)</h1>", response.text)
    assert found, response.text[:300]
    return found.group(1)


def html_tag(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r"<html[^>]*>", response.text)
    assert found
    return found.group(0)


def assert_script_free(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<script" not in response.text.lower()
    assert response.headers["vary"] == "Accept-Language"


def catalog(code: str) -> dict[str, str]:
    return read_catalog(BUILTIN_LOCALES_DIR / f"{code}.json")


def test_every_page_has_english_words_and_every_shipped_language_translates_them() -> None:
    pages = {page for _, page in LINK_PROBLEM_PAGES.values()} | {
        page for _, page in HELP_LINK_PROBLEM_PAGES.values()
    }
    pages.add("unavailable")
    english = catalog("en")
    for code in ("de", "fr", "es", "pt", "hi", "ar"):
        messages = catalog(code)
        for page in pages:
            for part in ("title", "text"):
                key = f"errorPage.{page}.{part}"
                assert english[key] and messages[key] and messages[key] != english[key], (code, key)


@pytest.mark.parametrize(
    ("accept_language", "lang", "title"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de", "Dieser Link ist ungültig"),
        ("fr-CA", "fr", "Ce lien n’est pas valide"),
        ("ar-EG", "ar", "هذا الرابط غير صالح"),
        ("ja, zh;q=0.8", "en", "This link is not valid"),  # none there: English
        (None, "en", "This link is not valid"),
    ],
)
def test_an_unknown_customer_link_is_told_in_the_browsers_language(
    client: TestClient, accept_language: str | None, lang: str, title: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get("/join/not-a-real-token", headers=headers)
    assert_script_free(response, 404)
    assert heading(response) == title
    assert f'lang="{lang}"' in html_tag(response)
    assert response.headers["content-language"] == lang
    assert ('dir="rtl"' in html_tag(response)) == (lang == "ar")


def test_an_ended_session_and_a_withdrawn_self_help_link_in_german(
    app: Starlette, client: TestClient
) -> None:
    accounts.create_user(app.state.services.db, "erin", "expert", "erin-correct-horse")
    user = accounts.find_user(app.state.services.db, "erin")
    assert user is not None
    staff = {"Authorization": f"Bearer {accounts.create_api_token(app.state.services.db, user, 'tests')}"}
    german = {"Accept-Language": "de"}

    case = client.post("/api/cases", json={"title": "Boiler"}, headers=staff).json()
    session = client.post(f"/api/cases/{case['id']}/sessions", headers=staff).json()
    assert client.post(f"/api/sessions/{session['id']}/end", headers=staff).status_code == 200
    ended = client.get("/join/" + session["customer_url"].rsplit("/", 1)[1], headers=german)
    assert_script_free(ended, 410)
    assert heading(ended) == "Diese Sitzung ist beendet"

    link = client.post(f"/api/procedures/{PROCEDURE}/self-help", json={}, headers=staff).json()
    assert client.post(f"/api/self-help/links/{link['id']}/revoke", headers=staff).status_code == 200
    revoked = client.get(f"/help/{link['token']}", headers=german)
    assert_script_free(revoked, 410)
    assert heading(revoked) == "Dieser Link funktioniert nicht mehr"
    assert "Support" in revoked.text
    # The page script's own calls keep English messages (for the page and for logs).
    answer = client.post(f"/help/{link['token']}/runs", json={}, headers=german)
    assert answer.status_code == 409
    assert answer.json()["error"]["message"].startswith("This link no longer works: It has been withdrawn.")


def test_a_database_that_cannot_answer_is_a_503_page_in_the_customers_words(
    app: Starlette, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The tables the two link checks read are gone from under the running server (SQLite).
    with app.state.services.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE sessions RENAME TO sessions_elsewhere"))
        connection.execute(text("ALTER TABLE self_help_links RENAME TO self_help_links_elsewhere"))
    for path in ("/join/some-secret-token", "/help/some-secret-token"):
        response = client.get(path, headers={"Accept-Language": "es-MX"})
        assert_script_free(response, 503)
        assert heading(response) == "Esta página no se puede abrir ahora"
        assert "su enlace sigue funcionando" in response.text
    # The server's own log (not the test client's, which logs the URL it asked for when an earlier
    # test left logging at INFO).
    server_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("server"))
    assert "the database could not answer" in server_log
    assert "some-secret-token" not in server_log


@pytest.fixture
def site_locales(tmp_path: Path) -> Path:
    site = tmp_path / "locales"
    site.mkdir()
    (site / "de.json").write_text(
        json.dumps({"errorPage.linkUnknown.title": "Dieser Link gehört nicht zu uns"}), encoding="utf-8"
    )
    (site / "nl.json").write_text(
        json.dumps(
            {
                "language.name": "Nederlands",
                "errorPage.linkUnknown.title": "Deze link is niet geldig",
                "errorPage.linkUnknown.text": "Vraag de expert om een nieuwe link.",
            }
        ),
        encoding="utf-8",
    )
    # Only half a page: English rather than a title in one language and a text in another.
    (site / "it.json").write_text(
        json.dumps({"language.name": "Italiano", "errorPage.linkUnknown.title": "Questo link non è valido"}),
        encoding="utf-8",
    )
    return site


@pytest.fixture
def site_client(tmp_path: Path, site_locales: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", locales_dir=site_locales))
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.services.db.close()


def test_a_site_rewords_and_adds_languages_without_code(site_client: TestClient) -> None:
    german = site_client.get("/join/nope", headers={"Accept-Language": "de"})
    assert heading(german) == "Dieser Link gehört nicht zu uns"  # the site's word
    assert "Prüfen Sie, ob Sie den ganzen Link geöffnet haben" in german.text  # the built-in rest
    dutch = site_client.get("/join/nope", headers={"Accept-Language": "nl-BE"})
    assert heading(dutch) == "Deze link is niet geldig" and 'lang="nl"' in html_tag(dutch)
    # A language with half of these words: the page is English, and says so.
    italian = site_client.get("/join/nope", headers={"Accept-Language": "it"})
    assert heading(italian) == "This link is not valid" and 'lang="en"' in html_tag(italian)
