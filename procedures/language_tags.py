"""How a language tag (BCP 47: ``de``, ``pt-BR``, ``zh-Hant``) is spelt: the one rule for the
procedures' translations and the pages' catalogs alike."""

from __future__ import annotations


def canonical_tag(tag: str) -> str:
    """``pt-br`` -> ``pt-BR``, ``ZH-hant`` -> ``zh-Hant``: lower-case language, upper-case region,
    title-case script."""
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part.lower())
    return "-".join(out)
