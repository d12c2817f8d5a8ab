"""A procedure in one language: the one place that picks a translation and falls back per field.

A procedure is written in its main language (``language``, default ``en``) and may carry
``translations`` of its customer-facing texts (docs/procedures.md, "Languages"). The customer's
page asks for its own language; the expert's console, recordings and exports keep the main one.

The rule, field by field: a text the translation gives is shown, anything it leaves out (a step's
title, its instruction, its safety notes, one label) is shown in the main language. Pure functions
over :class:`~procedures.schema.ProcedureSpec`, so the rule is tested without a server.
"""

from __future__ import annotations

from typing import Any

from procedures.schema import ProcedureSpec, StepSpec, TranslationSpec


def translation_language(spec: ProcedureSpec, wanted: str | None) -> str:
    """The language ``spec``'s texts are shown in for someone who wants ``wanted`` (a language tag
    such as ``de``, ``pt-BR``; None: the main language).

    Exactly that translation, else one of the same language without the region (``de-AT`` is given
    ``de``), else a regional one of it (``pt`` is given ``pt-BR``), else the main language.
    """
    if not wanted:
        return spec.language
    by_lower = {tag.lower(): tag for tag in spec.translations}
    by_lower[spec.language.lower()] = spec.language
    wanted_lower = wanted.lower()
    primary = wanted_lower.split("-")[0]
    for candidate in (wanted_lower, primary):
        if candidate in by_lower:
            return by_lower[candidate]
    regional = sorted(tag for tag in spec.translations if tag.lower().split("-")[0] == primary)
    return regional[0] if regional else spec.language


def _annotation_in(annotation: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    field = "text" if annotation.get("kind") == "label" else "label"
    text = annotation.get(field)
    if isinstance(text, str) and text in labels:
        return {**annotation, field: labels[text]}
    return annotation


def _step_in(step: StepSpec, translation: TranslationSpec) -> StepSpec:
    texts = translation.steps.get(step.id)
    if texts is None:
        return step
    return step.model_copy(
        update={
            "title": texts.title or step.title,
            "instruction": texts.instruction or step.instruction,
            "safety": list(texts.safety) if texts.safety is not None else step.safety,
            "annotations": [_annotation_in(a, texts.labels) for a in step.annotations],
        }
    )


def procedure_in(spec: ProcedureSpec, wanted: str | None) -> ProcedureSpec:
    """``spec`` with its texts in the language :func:`translation_language` picks for ``wanted``,
    each field the translation leaves out in the main language. The result's ``language`` says which
    language it is in, and it carries no translations of its own."""
    language = translation_language(spec, wanted)
    if language == spec.language:
        return spec
    translation = spec.translations[language]
    return spec.model_copy(
        update={
            "title": translation.title or spec.title,
            "language": language,
            "device": spec.device.model_copy(update={"model": translation.device_model or spec.device.model}),
            "steps": [_step_in(step, translation) for step in spec.steps],
            "translations": {},
        }
    )


def label_translations(spec: ProcedureSpec, wanted: str | None, step_id: str) -> dict[str, str]:
    """The labels of step ``step_id`` that read otherwise in the language picked for ``wanted``:
    main-language text -> translated text (empty when nothing changes). For the live overlay, whose
    marks vision projects once, with the main language's labels, for both screens."""
    language = translation_language(spec, wanted)
    if language == spec.language:
        return {}
    texts = spec.translations[language].steps.get(step_id)
    if texts is None:
        return {}
    return {main: translated for main, translated in texts.labels.items() if main != translated}
