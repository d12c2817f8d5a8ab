"""The customer page's languages: message catalogs and the choice of one from ``Accept-Language``.

A catalog is a JSON file named after its language tag (``de.json``, ``pt-BR.json``) holding one
object of message keys to strings, with ``language.name`` (the language's own name, shown in the
picker) and ``language.dir`` (``ltr`` or ``rtl``). The built-in catalogs are in
``client_web/locales/``; a site adds languages or overrides messages with the same files in its own
directory (``--locales DIR``), read at every request, so no code, build step or restart is needed:
a site file's keys win over the built-in file's, and keys it leaves out keep the built-in text.
What cannot be read (not JSON, not an object of strings, a name that is not a language tag) is
left out with a logged reason; the page then falls back to the built-in text (docs/customer-page.md,
"Languages").
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from procedures.language_tags import canonical_tag

log = logging.getLogger(__name__)

# The built-in catalogs, served beside the pages (no build step).
BUILTIN_LOCALES_DIR = Path(__file__).resolve().parent.parent / "client_web" / "locales"
# The language every message exists in: the page falls back to it key by key.
DEFAULT_LANGUAGE = "en"
# A language tag as a file name: a primary language and optional subtags (``pt-BR``, ``zh-Hant``).
_TAG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
# Catalog limits: a site file is read on every request for it.
MAX_CATALOG_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 4000


class CatalogError(ValueError):
    """A catalog file that cannot be used, and why."""


@dataclass(frozen=True)
class Language:
    """One language a page can be shown in."""

    code: str
    name: str
    dir: str  # "ltr" | "rtl"


def is_language_tag(tag: str) -> bool:
    return bool(_TAG_RE.match(tag))


def parse_accept_language(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (RFC 9110 section 12.5.4):
    ``q=0`` means "not this", equal weights keep their order, and what does not parse is skipped."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "").split(",")[:50]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = -1.0
        if weight <= 0 or weight > 1 or not (tag == "*" or is_language_tag(tag)):
            continue
        ranked.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(header: str | None, available: Iterable[str], default: str = DEFAULT_LANGUAGE) -> str:
    """The language of ``available`` that ``header`` (an ``Accept-Language`` value) wants most.

    A wanted tag matches an available one exactly (case aside), then by its primary language
    (``de-CH`` takes ``de``; ``pt`` takes ``pt-BR`` when only that is there); ``*`` takes the
    default. Nothing wanted is available: the default."""
    codes = {code.lower(): code for code in available}
    by_primary: dict[str, str] = {}
    for code in sorted(codes.values(), key=len):
        by_primary.setdefault(code.split("-")[0].lower(), code)
    for tag in parse_accept_language(header):
        if tag == "*":
            return default
        wanted = tag.lower()
        if wanted in codes:
            return codes[wanted]
        primary = wanted.split("-")[0]
        if primary in codes:
            return codes[primary]
        if primary in by_primary:
            return by_primary[primary]
    return default


def read_catalog(path: Path) -> dict[str, str]:
    """One catalog file's messages; :class:`CatalogError` says what is wrong with it."""
    try:
        if path.stat().st_size > MAX_CATALOG_BYTES:
            raise CatalogError(f"{path}: over {MAX_CATALOG_BYTES // 1024} KiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: must hold one JSON object of message keys to strings")
    for key, value in data.items():
        if not isinstance(value, str):
            raise CatalogError(f"{path}: the message {key!r} is not a string")
        if len(value) > MAX_MESSAGE_CHARS:
            raise CatalogError(f"{path}: the message {key!r} is over {MAX_MESSAGE_CHARS} characters")
    return data


class Catalogs:
    """The built-in catalogs with a site's directory over them (None: built-in only)."""

    def __init__(self, site_dir: Path | None = None, builtin_dir: Path = BUILTIN_LOCALES_DIR) -> None:
        self.dirs = [builtin_dir] + ([site_dir] if site_dir is not None else [])

    def _files(self, code: str | None = None) -> dict[str, list[Path]]:
        """Catalog files by canonical tag, built-in first, of one language or all."""
        found: dict[str, list[Path]] = {}
        for directory in self.dirs:
            try:
                paths = sorted(directory.glob("*.json"))
            except OSError:
                continue
            for path in paths:
                if not is_language_tag(path.stem):
                    log.warning(
                        "locales: %s is not named after a language tag (like de.json); left out", path
                    )
                    continue
                tag = canonical_tag(path.stem)
                if code is None or tag == code:
                    found.setdefault(tag, []).append(path)
        return found

    def messages(self, code: str) -> dict[str, str] | None:
        """A language's messages, the site's over the built-in ones; None: no such language."""
        files = self._files(canonical_tag(code)) if is_language_tag(code) else {}
        if not files:
            return None
        merged: dict[str, str] = {}
        for path in next(iter(files.values())):
            try:
                merged.update(read_catalog(path))
            except CatalogError as exc:
                log.warning("locales: %s; left out", exc)
        return merged

    def languages(self) -> list[Language]:
        """Every language with a catalog that can be read, by code."""
        out = []
        for code in sorted(self._files()):
            messages = self.messages(code)
            if not messages:
                continue
            out.append(describe(code, messages))
        return out


def describe(code: str, messages: Mapping[str, str]) -> Language:
    direction = messages.get("language.dir", "ltr")
    return Language(code, messages.get("language.name", code), "rtl" if direction == "rtl" else "ltr")
