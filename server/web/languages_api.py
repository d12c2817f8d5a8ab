"""The customer page's languages over HTTP (``server/languages.py`` holds the rules).

- ``GET /locales``: the languages there are, and the one this request's ``Accept-Language``
  chooses, which the page takes unless its picker remembers another.
- ``GET /locales/<code>.json``: one language's messages (a site's directory over the built-in).

Both are public: the customer page has no sign-in, and the catalogs hold no secrets.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..languages import DEFAULT_LANGUAGE, Catalogs, canonical_tag, describe, negotiate
from .errors import error_response
from .state import services

# A site's catalogs change without a restart: the browser asks again each time it loads a page.
_HEADERS = {"Cache-Control": "no-cache"}


def catalogs_of(request: Request) -> Catalogs:
    return Catalogs(services(request).settings.locales_dir)


async def list_languages(request: Request) -> JSONResponse:
    languages = catalogs_of(request).languages()
    chosen = negotiate(request.headers.get("accept-language"), [language.code for language in languages])
    return JSONResponse(
        {
            "chosen": chosen,
            "default": DEFAULT_LANGUAGE,
            "languages": [asdict(language) for language in languages],
        },
        headers=_HEADERS,
    )


async def language_catalog(request: Request) -> JSONResponse:
    code = str(request.path_params["code"])
    messages = catalogs_of(request).messages(code)
    if messages is None:
        return error_response(
            404,
            "unknown_language",
            f"No messages in the language {code!r}; GET /locales lists the languages there are",
        )
    language = describe(canonical_tag(code), messages)
    return JSONResponse({**asdict(language), "messages": messages}, headers=_HEADERS)


def routes() -> list[Route]:
    return [
        Route("/locales", list_languages, methods=["GET"]),
        Route("/locales/{code}.json", language_catalog, methods=["GET"]),
    ]
