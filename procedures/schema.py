"""The ``procedure.yaml`` format as pydantic models, and the checks that need the reference image.

Validation is in two passes because coordinates can only be checked once the reference image
is read (its size is not in the YAML): :class:`ProcedureSpec` checks the shape of the file,
then :func:`coordinate_problems` checks every point against the reference size. Both report a
*location* (``step 'press'``, ``completion.dwell_ms``) so an author can find the line to fix;
:func:`describe_validation_error` turns pydantic's error list into those words.

Annotations and completion rules are checked with vision's own parsers
(:func:`vision.annotations.annotation_from_dict`, :func:`vision.steps.step_rule_from_dict`), so a
procedure that loads is one the pipeline accepts.

``translations`` give the customer-facing texts in other languages (:class:`TranslationSpec`); they
are checked against the steps they translate (:func:`translation_problems`), and
``procedures/languages.py`` is the one place that picks a translation and falls back per field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from procedures.language_tags import canonical_tag
from vision.annotations import Annotation, Arrow, Circle, Label, Polyline, Rect, annotation_from_dict
from vision.steps import StepRule, step_rule_from_dict

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A language tag as the customer page's catalogs are named (server/languages.py), in its canonical
# spelling: lower-case language, then an upper-case region or a title-case script (``pt-BR``, ``zh-Hant``).
LANGUAGE_TAG_RE = re.compile(r"^[a-z]{2,3}(-(?:[A-Z]{2}|[0-9]{3}|[A-Z][a-z]{3}|[a-z0-9]{5,8}))*$")
MAX_TRANSLATIONS = 50
MAX_SLUG_CHARS = 100  # the cases table keeps procedure_id in 100 characters
MAX_TEXT_CHARS = 200
MAX_INSTRUCTION_CHARS = 2000
MAX_STEPS = 100
MAX_ANNOTATIONS_PER_STEP = 50
MAX_RULE_MS = 60_000
# Points may lie this far outside the reference image (a fraction of its longer side): a label
# or arrow tail just off the device edge is fine, a point in another image's coordinates is not.
COORDINATE_MARGIN_FRAC = 0.05


def _slug(value: str) -> str:
    if len(value) > MAX_SLUG_CHARS:
        raise ValueError(f"at most {MAX_SLUG_CHARS} characters, got {len(value)}")
    if not SLUG_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters, digits and single dashes, "
            "e.g. 'board-connector-reseat'"
        )
    return value


def _coordinate(value: Any) -> float:
    # YAML gives ints, floats, and also booleans and strings ("12px"); only finite numbers are pixels.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"coordinates must be finite numbers (pixels), got {value!r}")
    return float(value)


def _annotation(value: Any) -> dict[str, Any]:
    """Checked with vision's parser; the YAML dict is kept (``LoadedProcedure`` builds the objects)."""
    annotation_from_dict(value)
    assert isinstance(value, dict)
    return value


def _positive_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RULE_MS:
        raise ValueError(f"must be a whole number of milliseconds > 0 and <= {MAX_RULE_MS}, got {value!r}")
    return value


def language_tag_problem(tag: object) -> str | None:
    """Why ``tag`` is not a language tag as procedures spell them (None when it is one)."""
    if not isinstance(tag, str) or len(tag) > 35:
        return f"{tag!r} is not a language code; use a tag such as 'de', 'pt-BR' or 'ar'"
    if LANGUAGE_TAG_RE.match(tag):
        return None
    canonical = canonical_tag(tag)
    if LANGUAGE_TAG_RE.match(canonical):
        return f"{tag!r}: write the language code as {canonical!r}"
    return f"{tag!r} is not a language code; use a tag such as 'de', 'pt-BR' or 'ar'"


def _language_tag(value: str) -> str:
    problem = language_tag_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Slug = Annotated[str, AfterValidator(_slug)]
LanguageTag = Annotated[str, AfterValidator(_language_tag)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
Coordinate = Annotated[float, BeforeValidator(_coordinate)]
PointRefPx = tuple[Coordinate, Coordinate]
AnnotationDict = Annotated[dict[str, Any], AfterValidator(_annotation)]
Milliseconds = Annotated[int | None, BeforeValidator(_positive_ms)]


class _Model(BaseModel):
    # A misspelt key is an error, never silently ignored: "dwel_ms" must not become the default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSpec(_Model):
    """What the camera looks at. ``reference`` is a file name beside procedure.yaml."""

    model: Text
    anchor: Literal["features", "aruco"]
    reference: str | None = None
    mat: Literal["default"] | None = None

    @field_validator("reference")
    @classmethod
    def _plain_file_name(cls, value: str | None) -> str | None:
        # The reference is served over HTTP: a path must not reach outside the procedure folder.
        if value is not None and (
            not value or "/" in value or "\\" in value or value.startswith(".") or value != value.strip()
        ):
            raise ValueError(
                f"{value!r}: give the file name of an image beside procedure.yaml (no folders), "
                "e.g. 'board.jpg'"
            )
        return value

    @model_validator(mode="after")
    def _anchor_fields(self) -> DeviceSpec:
        if self.anchor == "features":
            if self.reference is None:
                raise ValueError(
                    "reference: anchor 'features' needs a reference photo of the device (a file name "
                    "beside procedure.yaml)"
                )
            if self.mat is not None:
                raise ValueError("mat: only an 'aruco' procedure has a mat; remove it or use anchor: aruco")
        return self

    @property
    def mat_name(self) -> str | None:
        """The mat layout of an aruco procedure ("default" unless named); None for features."""
        if self.anchor != "aruco":
            return None
        return self.mat or "default"


class TargetSpec(_Model):
    """The area a ``touch`` step must be touched in: a polygon in reference px."""

    polygon_ref_px: list[PointRefPx] = Field(min_length=3, max_length=64)


class CompletionSpec(_Model):
    """How a step is done: the expert says so (manual), a fingertip dwells on the target (touch),
    or the device stays in view (visible)."""

    kind: Literal["manual", "touch", "visible"]
    dwell_ms: Milliseconds = None
    duration_ms: Milliseconds = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> CompletionSpec:
        if self.dwell_ms is not None and self.kind != "touch":
            raise ValueError(f"dwell_ms: only a touch step has dwell_ms (this one is {self.kind})")
        if self.duration_ms is not None and self.kind != "visible":
            raise ValueError(f"duration_ms: only a visible step has duration_ms (this one is {self.kind})")
        return self

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class StepSpec(_Model):
    id: Slug
    title: Text
    instruction: str = Field(min_length=1, max_length=MAX_INSTRUCTION_CHARS)
    annotations: list[AnnotationDict] = Field(default_factory=list, max_length=MAX_ANNOTATIONS_PER_STEP)
    target: TargetSpec | None = None
    completion: CompletionSpec
    safety: list[Text] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _rule_builds(self) -> StepSpec:
        if self.completion.kind == "touch" and self.target is None:
            raise ValueError(
                "target: a touch step needs target: {polygon_ref_px: [[x, y], ...]}, the area the "
                "fingertip must rest on"
            )
        self.rule()
        return self

    def rule(self) -> StepRule | None:
        """The vision rule for this step (None for manual)."""
        target = (
            None if self.target is None else {"polygon_ref_px": [list(p) for p in self.target.polygon_ref_px]}
        )
        return step_rule_from_dict(self.completion.as_dict(), target)

    def annotation_objects(self) -> tuple[Annotation, ...]:
        return tuple(annotation_from_dict(a) for a in self.annotations)

    def labels(self) -> tuple[str, ...]:
        """The texts its annotations show (a label annotation's text, the others' labels), in order."""
        return tuple(a.label for a in self.annotation_objects() if a.label)


class StepTranslation(_Model):
    """One step's texts in another language; what is left out is shown in the main language.

    ``labels`` maps an annotation's label in the main language to its translation (a step's
    label annotations by their ``text``), so a translator sees what they translate.
    """

    title: Text | None = None
    instruction: str | None = Field(default=None, min_length=1, max_length=MAX_INSTRUCTION_CHARS)
    safety: list[Text] | None = Field(default=None, max_length=20)
    labels: dict[str, Text] = Field(default_factory=dict, max_length=MAX_ANNOTATIONS_PER_STEP)


class TranslationSpec(_Model):
    """The customer-facing texts of a procedure in one more language (docs/procedures.md, "Languages")."""

    title: Text | None = None
    device_model: Text | None = None
    steps: dict[str, StepTranslation] = Field(default_factory=dict, max_length=MAX_STEPS)


class ProcedureSpec(_Model):
    """One ``procedure.yaml``, as docs/procedures.md describes it."""

    id: Slug
    title: Text
    # The language the procedure is written in: what the expert's console, recordings and exports
    # show, and what every translation falls back to.
    language: LanguageTag = "en"
    device: DeviceSpec
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)
    translations: dict[str, TranslationSpec] = Field(default_factory=dict, max_length=MAX_TRANSLATIONS)

    @field_validator("steps")
    @classmethod
    def _unique_step_ids(cls, steps: list[StepSpec]) -> list[StepSpec]:
        seen: set[str] = set()
        for step in steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice; step ids must be unique")
            seen.add(step.id)
        return steps

    @model_validator(mode="after")
    def _translations_fit(self) -> ProcedureSpec:
        problems = translation_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def translation_problems(spec: ProcedureSpec) -> list[str]:
    """Every translation that does not fit the procedure: a key that is not a language code (or is
    the main language), a step the procedure lacks, a label no annotation of the step shows, a
    different number of safety notes. Each names ``translations.<language>...`` so it can be found."""
    steps = {step.id: step for step in spec.steps}
    problems: list[str] = []
    for language, translation in spec.translations.items():
        where = f"translations.{language}"
        problem = language_tag_problem(language)
        if problem is not None:
            problems.append(f"translations: {problem}")
            continue
        if language == spec.language:
            problems.append(
                f"{where}: {language!r} is the procedure's main language (language: {spec.language}); "
                "its texts are the steps' own, so remove this translation"
            )
            continue
        for step_id, texts in translation.steps.items():
            step = steps.get(step_id)
            if step is None:
                problems.append(
                    f"{where}.steps: {step_id!r} is not a step of this procedure; its steps are "
                    f"{', '.join(steps)}"
                )
                continue
            at = f"{where}.steps.{step_id}"
            if texts.safety is not None and len(texts.safety) != len(step.safety):
                problems.append(
                    f"{at}.safety: {len(texts.safety)} note(s), but the step has {len(step.safety)}; "
                    "translate each of its safety notes, in the same order"
                )
            labels = step.labels()
            for label in texts.labels:
                if label not in labels:
                    shown = ", ".join(repr(text) for text in labels) if labels else "none"
                    problems.append(
                        f"{at}.labels: no annotation of step {step_id!r} has the label {label!r} "
                        f"(its labels: {shown}); key each translation by the label's text in "
                        f"the main language"
                    )
    return problems


# --- coordinates against the reference image ------------------------------------------------------


def _points(annotation: Annotation) -> Iterator[tuple[str, tuple[float, float]]]:
    """Each point of an annotation with the name of its field in the YAML."""
    if isinstance(annotation, Rect):
        for i, p in enumerate(annotation.ref_px):
            yield f"ref_px[{i}]", p
    elif isinstance(annotation, Circle):
        yield "centre_ref_px", annotation.centre_ref_px
    elif isinstance(annotation, Arrow):
        yield "from_ref_px", annotation.from_ref_px
        yield "to_ref_px", annotation.to_ref_px
    elif isinstance(annotation, Polyline):
        for i, p in enumerate(annotation.points_ref_px):
            yield f"points_ref_px[{i}]", p
    elif isinstance(annotation, Label):
        yield "at_ref_px", annotation.at_ref_px


def coordinate_problems(
    spec: ProcedureSpec, reference_size: tuple[int, int], reference_name: str
) -> list[str]:
    """Every point outside the reference image (plus the margin), as ``step 'x': field: message``.

    Pixel centres run from 0 to size-1 (x right, y down); the margin allows marks just off the edge.
    """
    width, height = reference_size
    margin = COORDINATE_MARGIN_FRAC * max(width, height)
    x_range = (-margin, width - 1 + margin)
    y_range = (-margin, height - 1 + margin)

    def outside(field: str, point: Sequence[float]) -> str | None:
        x, y = point
        if x_range[0] <= x <= x_range[1] and y_range[0] <= y <= y_range[1]:
            return None
        return (
            f"{field}: [{x:g}, {y:g}] lies outside the reference image {reference_name} "
            f"({width}x{height} px; x must be within {x_range[0]:g}..{x_range[1]:g} "
            f"and y within {y_range[0]:g}..{y_range[1]:g}); "
            "coordinates are pixels of the reference image"
        )

    problems = []
    for step in spec.steps:
        found: list[str] = []
        for i, annotation in enumerate(step.annotation_objects()):
            for field, point in _points(annotation):
                found.append(outside(f"annotations[{i}].{field}", point) or "")
            if isinstance(annotation, Circle) and annotation.radius_ref_px > max(width, height):
                found.append(
                    f"annotations[{i}].radius_ref_px: {annotation.radius_ref_px:g} is larger than the "
                    f"reference image {reference_name} ({width}x{height} px)"
                )
        if step.target is not None:
            for i, point in enumerate(step.target.polygon_ref_px):
                found.append(outside(f"target.polygon_ref_px[{i}]", point) or "")
        problems += [f"step {step.id!r}: {text}" for text in found if text]
    return problems


# --- pydantic errors in an author's words ---------------------------------------------------------


def _where(loc: Sequence[int | str], data: Any) -> str:
    """``('steps', 1, 'completion', 'dwell_ms')`` -> ``step 'press': completion.dwell_ms``."""
    parts = list(loc)
    prefix = ""
    if len(parts) >= 2 and parts[0] == "steps" and isinstance(parts[1], int):
        index = parts[1]
        step_id = None
        if isinstance(data, dict) and isinstance(data.get("steps"), list) and index < len(data["steps"]):
            raw = data["steps"][index]
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                step_id = raw["id"]
        prefix = f"step {step_id!r}" if step_id is not None else f"steps[{index}] (step number {index + 1})"
        parts = parts[2:]
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else part
    return ": ".join(p for p in (prefix, field) if p)


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return "is not a field of a procedure here; check its spelling (docs/procedures.md lists the fields)"
    message = str(error["msg"])
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    given = error.get("input")
    if given is None or isinstance(given, str | int | float | bool):
        message += f", got {given!r}"
    return message


def describe_validation_error(exc: ValidationError, data: Any) -> list[str]:
    """One line per problem, naming the step and the field (``data`` is the YAML, for step ids)."""
    lines: list[str] = []
    for error in exc.errors():
        where = _where(error["loc"], data)
        line = f"{where}: {_message(error)}" if where else _message(error)
        if line not in lines:
            lines.append(line)
    return lines
