"""How the recording library's text is searched: one rule for words, the same on SQLite and PostgreSQL.

A word is a run of letters, digits and combining marks in any script (Unicode categories L, N, M
and Co; everything else separates words). Before it is indexed or searched, text is folded: case
by Unicode case folding (``Müller``/``MÜLLER`` -> ``müller``, ``ΣΟΦΙΑ``/``σοφία`` -> ``σοφια``,
``Straße`` -> ``strasse``), compatibility forms to their plain letters (``ﬁ`` -> ``fi``, full-width
``Ａ`` -> ``a``), and accents dropped: the combining diacritics of Latin, Greek and Cyrillic and the
vowel points of Arabic and Hebrew (``café`` -> ``cafe``, ``ça`` -> ``ca``, ``أ`` -> ``ا``). The
marks that are part of a letter in other scripts (Devanagari's vowel signs, a Japanese dakuten)
stay, so Hindi words stay whole.

Folding happens here, in Python, for both databases, rather than in each database: PostgreSQL's
``unaccent`` is an extension a site may not have (nor the right to install), and ``lower()`` there
follows the database's locale; SQLite's ``unicode61`` tokenizer folds case but not Greek final
sigma or ``ß``. One rule in one place finds the same rows on both. Each entry keeps its folded
words (``search_entries.words``, space-separated) and each database indexes them:

- SQLite: the FTS5 table ``search_words`` over that column (external content, kept in step by
  triggers; tokenizer ``unicode61 remove_diacritics 2`` with marks as word characters).
- PostgreSQL: a GIN index on ``to_tsvector('simple', words)`` (no stemming, no stop words: the
  words are any language's).

Both are made by revision 0007 (``migrations/versions/0007_search_words.py``), outside the models,
so ``include_name`` keeps them out of Alembic's comparison with ``models.py``.

A query is folded and split the same way and matches the words in that order, one after another,
the last one also as the start of a word (``plug loo`` finds "the plug looks tilted"). Its words
are quoted into the database's query language, which no character of a word can break out of,
so quotes, ``*``, ``-``, ``NEAR``, ``OR`` or brackets in a query are only separators or words.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Integer, String, bindparam, column, func, literal_column, text

from .models import search_entries

SQLITE_WORD_TABLE = "search_words"
POSTGRES_WORD_INDEX = "ix_search_entries_words"
# PostgreSQL's text search configuration: ``simple`` lowercases and keeps every word (no stemming and
# no stop words, which are one language's). Spelled as a constant so the planner matches the index.
POSTGRES_CONFIG = "'simple'::regconfig"

# Combining marks that are accents to a reader of the script: Latin, Greek and Cyrillic diacritics
# (the combining blocks), Hebrew points and Arabic vowel marks. Only Mn characters in these ranges go.
DIACRITIC_RANGES = (
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x0591, 0x05C7),  # Hebrew points and accents
    (0x0610, 0x061A),  # Arabic signs
    (0x064B, 0x065F),  # Arabic harakat (fatha, damma, kasra, shadda, sukun, hamza above/below)
    (0x0670, 0x0670),  # Arabic superscript alef
    (0x06D6, 0x06ED),  # Arabic Quranic marks
    (0x1AB0, 0x1AFF),  # Combining Diacritical Marks Extended
    (0x1DC0, 0x1DFF),  # Combining Diacritical Marks Supplement
    (0x20D0, 0x20FF),  # Combining Diacritical Marks for Symbols
    (0xFE20, 0xFE2F),  # Combining Half Marks
)


def _is_accent(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) == "Mn" and any(low <= code <= high for low, high in DIACRITIC_RANGES)


def fold(value: str) -> str:
    """``value`` with case, compatibility forms and accents folded (see the module's docstring)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).casefold())
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not _is_accent(char)))


def _is_word_character(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LNM" or category == "Co"


def words_of(value: str) -> list[str]:
    """The folded words of ``value``, in order."""
    words: list[str] = []
    current: list[str] = []
    for char in fold(value):
        if _is_word_character(char):
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def indexed_words(value: str) -> str:
    """What ``search_entries.words`` holds for ``value``: its folded words, space-separated."""
    return " ".join(words_of(value))


def words_match(dialect: str, words: Sequence[str]) -> ColumnElement[bool]:
    """The condition on ``search_entries`` for entries holding ``words`` one after another, the last
    one as a prefix. ``words`` come from ``words_of`` (never empty), so each is letters, digits and
    marks only: quoting it cannot be broken out of."""
    assert words, "words_match needs at least one word"
    if dialect == "sqlite":
        # FTS5: a quoted string is a phrase; ``*`` after it makes its last word a prefix.
        phrase = '"' + " ".join(words) + '" *'
        matching = (
            text(f"SELECT rowid FROM {SQLITE_WORD_TABLE} WHERE {SQLITE_WORD_TABLE} MATCH :search_phrase")
            .bindparams(search_phrase=phrase)
            .columns(column("rowid", Integer))
        )
        return search_entries.c.id.in_(matching)
    # tsquery: quoted lexemes joined by "followed by", the last with the prefix flag. Sent as a literal
    # in the statement (SQLAlchemy quotes it), not a parameter: psycopg prepares a statement run 5
    # times, and PostgreSQL's generic plan for it, not knowing the query, tested every candidate row
    # by computing its tsvector (measured: 0.2 s a search became 0.65 s from the 10th on).
    query = " <-> ".join(f"'{word}'" for word in words) + ":*"
    config: ColumnElement[str] = literal_column(POSTGRES_CONFIG)
    tsquery = func.to_tsquery(config, bindparam(None, query, type_=String, literal_execute=True))
    return func.to_tsvector(config, search_entries.c.words).bool_op("@@")(tsquery)


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """For Alembic's comparison with the models: leave out the word indexes made by revision 0007
    (the FTS5 table and its shadow tables on SQLite, the GIN index on PostgreSQL)."""
    if type_ == "table" and name is not None and name.startswith(SQLITE_WORD_TABLE):
        return False
    return not (type_ == "index" and name == POSTGRES_WORD_INDEX)
