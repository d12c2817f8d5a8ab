"""The search's rule for words: case and accents folded in every script, anything else a separator."""

from __future__ import annotations

import pytest

from server.records.search_text import fold, indexed_words, words_of


@pytest.mark.parametrize(
    ("written", "searched"),
    [
        ("Müller", "muller"),
        ("MÜLLER", "muller"),
        ("Mu\u0308ller", "muller"),  # decomposed, as some keyboards send it
        ("Café", "cafe"),
        ("ça", "ÇA"),
        ("σοφία", "ΣΟΦΙΑ"),
        ("ΟΔΥΣΣΕΥΣ", "οδυσσευς"),  # final sigma
        ("Ёлка", "елка"),
        ("Straße", "STRASSE"),
        ("ﬁx", "fix"),
        ("Ｆｕｌｌ", "full"),
        ("İstanbul", "istanbul"),
        ("أهلاً", "اهلا"),  # hamza and tanween are not letters to a searcher
        ("שָׁלוֹם", "שלום"),  # Hebrew points
    ],
)
def test_case_accents_and_forms_fold_to_the_same_word(written: str, searched: str) -> None:
    assert words_of(written) == words_of(searched) and len(words_of(written)) == 1


def test_hindi_and_arabic_words_stay_whole() -> None:
    # Devanagari's vowel signs and virama are combining marks; they belong to the word.
    assert words_of("प्लग ढीला है") == ["प्लग", "ढीला", "है"]
    assert words_of("الشاشة لا تعمل!") == ["الشاشة", "لا", "تعمل"]
    assert words_of("カード") == ["カード"]  # the dakuten stays on its kana


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ('"plug', ["plug"]),
        ("NEAR(plug tilted, 2)", ["near", "plug", "tilted", "2"]),
        ("plug* AND -tilted OR (j5)", ["plug", "and", "tilted", "or", "j5"]),
        ("'; DROP TABLE cases; --", ["drop", "table", "cases"]),
        ("plug:* <-> !j5 & x | y", ["plug", "j5", "x", "y"]),
        ("🔧 plug 🙂", ["plug"]),
        ("plug%tilted_j5", ["plug", "tilted", "j5"]),
        ("\\ \" ' * ( ) _ % 🙂", []),
    ],
)
def test_query_syntax_is_only_separators_and_words(query: str, words: list[str]) -> None:
    assert words_of(query) == words


def test_indexed_words_are_the_folded_words_space_separated() -> None:
    assert indexed_words("  The J5 plug — looks TILTED. ") == "the j5 plug looks tilted"
    assert indexed_words("") == ""
    assert fold("Ⓐ") == "a"
