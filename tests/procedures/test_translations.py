"""Translated procedures (docs/procedures.md, "Languages"): which translation a language gets, the
fallback to the main language field by field, and what an author is told when a translation does
not fit the procedure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from procedures import BUILTIN_LIBRARY, ProcedureLibrary, ProcedureLoadError, load_procedure
from procedures.languages import label_translations, procedure_in, translation_language
from procedures.schema import ProcedureSpec
from tests.procedures.helpers import good_procedure, write_procedure

# The languages the customer page ships (client_web/locales), besides English.
PAGE_LANGUAGES = ("de", "fr", "es", "pt", "hi", "ar")


def translated_procedure() -> dict[str, Any]:
    """The good procedure with a German translation of everything and a French one of some things."""
    data = good_procedure()
    data["steps"][0]["annotations"].append({"kind": "label", "at_ref_px": [520, 205], "text": "press here"})
    data["translations"] = {
        "de": {
            "title": "J5 neu stecken",
            "device_model": "Soundkarte",
            "steps": {
                "locate": {
                    "title": "Stecker finden",
                    "instruction": "Richten Sie die Kamera auf die Platine.",
                    "labels": {"J5": "Stecker J5", "press here": "hier drücken"},
                },
                "press": {
                    "title": "Herunterdrücken",
                    "instruction": "Zwei Sekunden lang auf den Stecker drücken.",
                    "safety": ["Zuerst den Strom abziehen."],
                },
            },
        },
        "fr": {"steps": {"locate": {"title": "Trouver le connecteur"}}},
    }
    return data


def spec_of(data: dict[str, Any]) -> ProcedureSpec:
    return ProcedureSpec.model_validate(data)


# --- which translation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "shown"),
    [
        (None, "en"),
        ("en", "en"),
        ("en-GB", "en"),
        ("de", "de"),
        ("DE", "de"),
        ("de-AT", "de"),
        ("fr-CA", "fr"),
        ("ja", "en"),
        ("", "en"),
    ],
)
def test_a_language_gets_its_translation_else_its_primary_language_else_the_main(
    wanted: str | None, shown: str
) -> None:
    assert translation_language(spec_of(translated_procedure()), wanted) == shown


def test_a_regional_translation_serves_its_language_and_an_exact_one_wins() -> None:
    data = good_procedure()
    data["translations"] = {"pt-BR": {"title": "Reencaixar J5"}, "pt-PT": {"title": "Voltar a ligar J5"}}
    spec = spec_of(data)
    assert translation_language(spec, "pt") == "pt-BR"  # the first by name
    assert translation_language(spec, "pt-PT") == "pt-PT"
    assert translation_language(spec, "pt-pt") == "pt-PT"
    assert translation_language(spec, "pt-AO") == "pt-BR"


def test_a_procedure_in_another_main_language_falls_back_to_that_one() -> None:
    data = good_procedure()
    data["language"] = "de"
    data["translations"] = {"en": {"title": "Reseat J5 (English)"}}
    spec = spec_of(data)
    assert translation_language(spec, "fr") == "de"
    assert procedure_in(spec, "en-US").title == "Reseat J5 (English)"
    assert procedure_in(spec, "de") is spec


# --- field by field -----------------------------------------------------------------------------


def test_every_text_the_translation_gives_is_shown_and_the_rest_is_the_main_language() -> None:
    spec = spec_of(translated_procedure())
    german = procedure_in(spec, "de-DE")
    assert german.language == "de" and german.translations == {}
    assert german.title == "J5 neu stecken"
    assert german.device.model == "Soundkarte"
    locate, press, check = german.steps
    assert (locate.title, locate.instruction) == ("Stecker finden", "Richten Sie die Kamera auf die Platine.")
    assert locate.labels() == ("Stecker J5", "hier drücken")
    assert press.safety == ["Zuerst den Strom abziehen."]
    # A step the translation leaves out is the main language's, as is everything but the texts.
    assert check == spec.steps[2]
    assert press.completion == spec.steps[1].completion and press.target == spec.steps[1].target
    # The main spec is untouched.
    assert spec.steps[0].labels() == ("J5", "press here")

    french = procedure_in(spec, "fr")
    assert french.title == "Reseat J5" and french.device.model == "Sound card"
    assert french.steps[0].title == "Trouver le connecteur"
    assert french.steps[0].instruction == "Point the camera at the board."
    assert french.steps[0].labels() == ("J5", "press here")
    assert french.steps[1].safety == ["Unplug the power first."]


def test_label_translations_are_those_of_the_step_that_read_otherwise() -> None:
    spec = spec_of(translated_procedure())
    assert label_translations(spec, "de", "locate") == {"J5": "Stecker J5", "press here": "hier drücken"}
    assert label_translations(spec, "de", "check") == {}
    assert label_translations(spec, "fr", "locate") == {}
    assert label_translations(spec, None, "locate") == {}


def test_to_json_is_in_the_asked_language_and_says_which(tmp_path: Path) -> None:
    loaded = load_procedure(write_procedure(tmp_path, translated_procedure()))
    english, german = loaded.to_json(), loaded.to_json("de")
    assert english["language"] == "en" and german["language"] == "de"
    assert english["languages"] == german["languages"] == ["en", "de", "fr"]
    assert german["title"] == "J5 neu stecken" and german["device"]["model"] == "Soundkarte"
    assert german["steps"][0]["annotations"] == [
        {"kind": "rect", "ref_px": [[527.0, 152.0], [583.0, 194.0]], "label": "Stecker J5"},
        {"kind": "label", "at_ref_px": [520.0, 205.0], "text": "hier drücken"},
    ]
    assert english["steps"][0]["annotations"][0]["label"] == "J5"
    # Geometry, rules and ids are the same in every language.
    for a, b in zip(english["steps"], german["steps"], strict=True):
        assert (a["id"], a["completion"], a["target"]) == (b["id"], b["completion"], b["target"])
    assert loaded.label_translations("de", "locate") == {"J5": "Stecker J5", "press here": "hier drücken"}
    with pytest.raises(LookupError, match="has no step 'nope'"):
        loaded.label_translations("de", "nope")


# --- the built-in procedures ---------------------------------------------------------------------


def test_the_builtin_procedures_are_translated_into_the_page_languages() -> None:
    library = ProcedureLibrary.load([BUILTIN_LIBRARY])
    assert library.errors == []
    for loaded in library.procedures.values():
        assert set(PAGE_LANGUAGES) <= set(loaded.languages()), loaded.id
        main = loaded.to_json()
        for language in PAGE_LANGUAGES:
            body = loaded.to_json(language)
            assert body["language"] == language
            assert body["title"] != main["title"]
            for ours, theirs in zip(main["steps"], body["steps"], strict=True):
                # Every step's title, instruction and safety notes are translated ...
                assert theirs["title"] != ours["title"], (loaded.id, language, ours["id"])
                assert theirs["instruction"] != ours["instruction"], (loaded.id, language, ours["id"])
                assert len(theirs["safety"]) == len(ours["safety"])
                assert not set(theirs["safety"]) & set(ours["safety"]), (loaded.id, language, ours["id"])
                # ... and every label with a word in it (part names such as "J5" or "C62" stay).
                for a, b in zip(ours["annotations"], theirs["annotations"], strict=True):
                    text = a.get("label") or a.get("text")
                    if text and any(char.islower() for char in text):
                        assert (b.get("label") or b.get("text")) != text, (loaded.id, language, text)


def test_the_router_safety_note_is_one_note() -> None:
    # A YAML flow list splits on commas: the note must be quoted to stay one sentence.
    router = ProcedureLibrary.load([BUILTIN_LIBRARY]).procedures["router-cable-reseat"]
    assert router.step("reseat-plug").safety == ["Hold the plug, not the cable, when you pull it out."]


# --- what an author is told ----------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]

BAD_TRANSLATIONS: list[tuple[str, Mutation, list[str]]] = [
    (
        "an unknown step id",
        lambda d: d["translations"]["de"]["steps"].update(locat={"title": "Finden"}),
        [
            "translations.de.steps: 'locat' is not a step of this procedure; "
            "its steps are locate, press, check"
        ],
    ),
    (
        "a language name, not a code",
        lambda d: d["translations"].update(Deutsch={"title": "J5"}),
        ["translations: 'Deutsch' is not a language code; use a tag such as 'de', 'pt-BR' or 'ar'"],
    ),
    (
        "a code in the wrong case",
        lambda d: d["translations"].update({"pt-br": {"title": "J5"}}),
        ["translations: 'pt-br': write the language code as 'pt-BR'"],
    ),
    (
        "a main language that is not a code",
        lambda d: d.update(language="english"),
        ["language: 'english' is not a language code"],
    ),
    (
        "the main language translated",
        lambda d: d["translations"].update(en={"title": "J5"}),
        ["translations.en: 'en' is the procedure's main language (language: en)", "remove this translation"],
    ),
    (
        "a label no annotation of the step has",
        lambda d: d["translations"]["de"]["steps"]["locate"]["labels"].update({"J6": "Stecker J6"}),
        [
            "translations.de.steps.locate.labels: no annotation of step 'locate' has the label 'J6' "
            "(its labels: 'J5', 'press here')"
        ],
    ),
    (
        "a label for a step whose annotations have none",
        lambda d: d["translations"]["de"]["steps"].update(check={"labels": {"C68": "C68"}}),
        [
            "translations.de.steps.check.labels: no annotation of step 'check' has the label 'C68' "
            "(its labels: none)"
        ],
    ),
    (
        "a safety note too many",
        lambda d: d["translations"]["de"]["steps"]["press"]["safety"].append("Vorsicht."),
        [
            "translations.de.steps.press.safety: 2 note(s), but the step has 1; "
            "translate each of its safety notes"
        ],
    ),
    (
        "safety notes for a step that has none",
        lambda d: d["translations"]["de"]["steps"]["locate"].update(safety=["Vorsicht."]),
        ["translations.de.steps.locate.safety: 1 note(s), but the step has 0"],
    ),
    (
        "a misspelt field",
        lambda d: d["translations"]["de"]["steps"]["locate"].update(instrution="x"),
        ["translations.de.steps.locate.instrution: is not a field", "check its spelling"],
    ),
    (
        "an empty title",
        lambda d: d["translations"]["de"]["steps"]["locate"].update(title=""),
        ["translations.de.steps.locate.title: String should have at least 1 character"],
    ),
    (
        "a translation that is not a mapping",
        lambda d: d["translations"].update(fr="Trouver le connecteur"),
        ["translations.fr: Input should be a valid dictionary"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in BAD_TRANSLATIONS], ids=[n for n, _, _ in BAD_TRANSLATIONS]
)
def test_a_translation_that_does_not_fit_is_refused_saying_where(
    tmp_path: Path, mutate: Mutation, expected: list[str]
) -> None:
    data = translated_procedure()
    mutate(data)
    folder = write_procedure(tmp_path, data, folder="reseat-j5")
    with pytest.raises(ProcedureLoadError) as caught:
        load_procedure(folder)
    for text in expected:
        assert text in caught.value.message, caught.value.message


def test_every_misfit_of_the_translations_is_reported_at_once(tmp_path: Path) -> None:
    data = translated_procedure()
    data["translations"]["de"]["steps"]["locat"] = {"title": "Finden"}
    data["translations"]["fr"]["steps"]["press"] = {"labels": {"J5": "J5"}}
    folder = write_procedure(tmp_path, data, folder="reseat-j5")
    with pytest.raises(ProcedureLoadError) as caught:
        load_procedure(folder)
    assert "translations.de.steps: 'locat'" in caught.value.message
    assert "translations.fr.steps.press.labels: no annotation of step 'press'" in caught.value.message
