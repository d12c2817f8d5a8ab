"""The words of the plain pages a customer can land on instead of their page, in their language.

An unknown, expired or withdrawn link, an ended session, a guide that is not on the server, or a
database that cannot answer: the customer's and the self-help link then answer with a page that has
no script at all (``pages.customer_message_page``), so the phone never asks for the camera for a
call that cannot happen.

The words are in the customer page's catalogs (``errorPage.<name>.title`` and ``.text`` in
``client_web/locales/*.json``, a site's ``--locales`` directory laid over them), so a site rewords
or translates them with no code, as it does the customer page. The language is the one the
request's ``Accept-Language`` wants most among those there are (``server/languages.py``); a page
whose words that language lacks is shown in English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..languages import DEFAULT_LANGUAGE, Catalogs, Language, negotiate

# The pages there are; en.json has ``errorPage.<name>.title`` and ``.text`` for each.
CustomerPage = Literal[
    "linkUnknown",
    "linkExpired",
    "sessionEnded",
    "helpUnknown",
    "helpRevoked",
    "helpMissing",
    "unavailable",
]
ENGLISH = Language(DEFAULT_LANGUAGE, "English", "ltr")


@dataclass(frozen=True)
class PageWords:
    """A page's title and text, and the language they are in."""

    language: Language
    title: str
    text: str


def page_words(catalogs: Catalogs, accept_language: str | None, page: CustomerPage) -> PageWords:
    """The words of ``page`` in the language ``accept_language`` wants most; English when that
    language lacks them (half a page in each language would read worse than English alone)."""
    keys = (f"errorPage.{page}.title", f"errorPage.{page}.text")
    languages = catalogs.languages()
    code = negotiate(accept_language, [language.code for language in languages])
    messages = catalogs.messages(code) or {}
    if code != DEFAULT_LANGUAGE and all(key in messages for key in keys):
        language = next(found for found in languages if found.code == code)
        return PageWords(language, messages[keys[0]], messages[keys[1]])
    english = messages if code == DEFAULT_LANGUAGE else catalogs.messages(DEFAULT_LANGUAGE) or {}
    return PageWords(ENGLISH, english.get(keys[0], page), english.get(keys[1], ""))


def english_words(page: CustomerPage) -> tuple[str, str]:
    """The built-in English title and text of ``page``, for an API error's message."""
    words = page_words(Catalogs(), None, page)
    return words.title, words.text
