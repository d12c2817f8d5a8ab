"""Loading procedures from folders: one procedure, or a library of them that survives broken ones.

A procedure folder holds ``procedure.yaml`` and its reference image. :func:`load_procedure` reads
one and raises :class:`ProcedureLoadError` naming the file, the step and the field;
:class:`ProcedureLibrary` loads every folder of several directories and *keeps* the errors, so one
author's typo never takes the other procedures (or the server) down.

Reference images are decoded once to learn their size (coordinates are checked against it) and
then again, lazily, when a session needs the pixels: a library of large photos does not sit in
memory until it is used.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from pydantic import ValidationError

from procedures.languages import label_translations, procedure_in, translation_language
from procedures.schema import ProcedureSpec, StepSpec, coordinate_problems, describe_validation_error
from vision.annotations import Annotation
from vision.markers import MatLayout, render_mat, repair_mat_layout, write_mat_pdf
from vision.pipeline import PipelineOptions
from vision.steps import StepRule
from vision.types import ImageArray

PROCEDURE_FILE = "procedure.yaml"
BUILTIN_LIBRARY = Path(__file__).resolve().parent / "library"
MAX_YAML_BYTES = 1024 * 1024
# Named mat layouts an aruco procedure may use (``device.mat``).
MAT_LAYOUTS = {"default": repair_mat_layout}


class ProcedureLoadError(Exception):
    """A procedure that could not be loaded: ``path`` (its procedure.yaml or folder) and ``message``
    (``step 'press': completion.dwell_ms: must be > 0 ...``; problems joined by ``; ``)."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "message": self.message}


class UnknownStepError(LookupError):
    """A step id the procedure does not have; the message lists the ones it has."""


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ProcedureLoadError(path, f"no {PROCEDURE_FILE} here; every procedure folder needs one")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ProcedureLoadError(
            path, f"the file is over {MAX_YAML_BYTES // 1024} KiB; is it the right file?"
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ProcedureLoadError(path, f"not UTF-8 text: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProcedureLoadError(path, f"invalid YAML{where}: {problem}") from None


def _image_size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{path.name} could not be read as an image (use a JPEG or PNG)")
    return (int(image.shape[1]), int(image.shape[0]))


def load_procedure(folder: Path) -> LoadedProcedure:
    """Read and check ``folder/procedure.yaml`` and its reference image.

    Raises :class:`ProcedureLoadError` (path + every problem found) when anything is wrong.
    """
    folder = Path(folder)
    path = folder / PROCEDURE_FILE
    data = _read_yaml(path)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ProcedureLoadError(
            path, f"the file is {kind}; it must be a mapping with id, title, device and steps"
        )
    try:
        spec = ProcedureSpec.model_validate(data)
    except ValidationError as exc:
        raise ProcedureLoadError(path, "; ".join(describe_validation_error(exc, data))) from None
    problems = []
    if spec.id != folder.name:
        problems.append(f"id: {spec.id!r} must equal the folder name {folder.name!r}; rename one of them")
    layout = MAT_LAYOUTS[spec.device.mat_name]() if spec.device.mat_name else None
    reference_size: tuple[int, int] | None = layout.size_px if layout is not None else None
    reference_name = "the rendered mat"
    if spec.device.reference is not None:
        reference_name = spec.device.reference
        reference_path = folder / spec.device.reference
        try:
            if not reference_path.is_file():
                raise ValueError(f"{spec.device.reference!r} is not a file in {folder}")
            reference_size = _image_size(reference_path)
        except ValueError as exc:
            problems.append(f"device.reference: {exc}")
            reference_size = None
        if reference_size is not None and layout is not None and reference_size != layout.size_px:
            problems.append(
                f"device.reference: {spec.device.reference} is {reference_size[0]}x{reference_size[1]} px "
                f"but the {spec.device.mat_name} mat is {layout.size_px[0]}x{layout.size_px[1]} px; "
                "leave reference out to use the rendered mat"
            )
            reference_size = None
    if reference_size is not None:
        problems += coordinate_problems(spec, reference_size, reference_name)
    if problems:
        raise ProcedureLoadError(path, "; ".join(problems))
    assert reference_size is not None
    return LoadedProcedure(spec, folder, reference_size, layout)


class LoadedProcedure:
    """A checked procedure with what sessions and the API need from it.

    Immutable once loaded; the caches (reference pixels, mat PDF) are filled on first use and
    safe to fill from several threads (the worst case is building one twice).
    """

    def __init__(
        self, spec: ProcedureSpec, folder: Path, reference_size: tuple[int, int], layout: MatLayout | None
    ) -> None:
        self.spec = spec
        self.folder = folder
        self.reference_size = reference_size
        self._layout = layout
        self._steps = {step.id: step for step in spec.steps}
        self._annotations = {step.id: step.annotation_objects() for step in spec.steps}
        self._rules = {step.id: step.rule() for step in spec.steps}
        self._lock = threading.Lock()
        self._reference: ImageArray | None = None
        self._mat_pdf: bytes | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def anchor(self) -> str:
        return self.spec.device.anchor

    def __repr__(self) -> str:
        return f"LoadedProcedure({self.id!r}, folder={str(self.folder)!r})"

    # --- the reference ------------------------------------------------------------------

    def reference_path(self) -> Path | None:
        """The reference image file, or None when the reference is the rendered mat."""
        if self.spec.device.reference is None:
            return None
        return self.folder / self.spec.device.reference

    def reference_bgr(self) -> ImageArray:
        """The reference image as BGR pixels (read-only: it is shared by every session)."""
        with self._lock:
            if self._reference is None:
                path = self.reference_path()
                if path is None:
                    assert self._layout is not None
                    image = cv2.cvtColor(render_mat(self._layout), cv2.COLOR_GRAY2BGR)
                else:
                    read = cv2.imread(str(path), cv2.IMREAD_COLOR)
                    if read is None:
                        raise ProcedureLoadError(path, "the reference image can no longer be read")
                    image = read
                image.flags.writeable = False
                self._reference = image
            return self._reference

    def reference_png(self) -> bytes:
        """The reference as PNG bytes (for serving the rendered mat, which has no file)."""
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(self.reference_bgr()))
        if not ok:
            raise RuntimeError(f"could not encode the reference of {self.id} as PNG")
        return encoded.tobytes()

    def mat_layout(self) -> MatLayout | None:
        """The marker layout of an aruco procedure; None for a features one."""
        return self._layout

    def mat_pdf(self) -> bytes | None:
        """The printable mat (A4 PDF at true size) of an aruco procedure; None for a features one."""
        if self._layout is None:
            return None
        with self._lock:
            if self._mat_pdf is None:
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "mat.pdf"
                    write_mat_pdf(self._layout, out)
                    self._mat_pdf = out.read_bytes()
            return self._mat_pdf

    # --- steps ----------------------------------------------------------------------------

    def step_ids(self) -> tuple[str, ...]:
        return tuple(self._steps)

    def step(self, step_id: str) -> StepSpec:
        try:
            return self._steps[step_id]
        except KeyError:
            raise UnknownStepError(
                f"procedure {self.id!r} has no step {step_id!r}; its steps are {', '.join(self._steps)}"
            ) from None

    def step_annotations(self, step_id: str) -> tuple[Annotation, ...]:
        """The step's annotations as vision objects (reference px), for ``ARPipeline.set_step``."""
        self.step(step_id)
        return self._annotations[step_id]

    def step_rule(self, step_id: str) -> StepRule | None:
        """The step's completion rule for vision; None for a manual step."""
        self.step(step_id)
        return self._rules[step_id]

    def pipeline_options(self, **overrides: Any) -> PipelineOptions:
        """Options for a session's :class:`vision.pipeline.ARPipeline`, starting at the first step.

        ``overrides`` are other :class:`PipelineOptions` fields (``hands=False``, ``detect_every``...).
        """
        first = self.spec.steps[0].id
        values: dict[str, Any] = {
            "anchor": self.anchor,
            "reference": self.reference_bgr(),
            "mat_layout": self._layout,
            "annotations": self._annotations[first],
            "step": self._rules[first],
        }
        values.update(overrides)
        return PipelineOptions(**values)

    # --- JSON for clients ---------------------------------------------------------------------

    @property
    def language(self) -> str:
        """The main language: the steps' own texts, the console's, the recordings' and exports'."""
        return self.spec.language

    def languages(self) -> tuple[str, ...]:
        """The main language, then every translation's, as the file lists them."""
        return (self.spec.language, *self.spec.translations)

    def language_for(self, wanted: str | None) -> str:
        """The language the texts are shown in for someone who wants ``wanted`` (procedures/languages.py)."""
        return translation_language(self.spec, wanted)

    def label_translations(self, wanted: str | None, step_id: str) -> dict[str, str]:
        """The step's labels that read otherwise in ``wanted``'s language: main text -> translated."""
        self.step(step_id)
        return label_translations(self.spec, wanted, step_id)

    def _step_json(self, step: StepSpec) -> dict[str, Any]:
        completion = step.completion.as_dict()
        rule = self._rules[step.id]
        if step.completion.kind == "touch":
            completion.setdefault("dwell_ms", getattr(rule, "dwell_ms", None))
        elif step.completion.kind == "visible":
            completion.setdefault("duration_ms", getattr(rule, "duration_ms", None))
        return {
            "id": step.id,
            "title": step.title,
            "instruction": step.instruction,
            "safety": list(step.safety),
            "completion": completion,
            "annotations": [a.to_dict() for a in step.annotation_objects()],
            "target": None
            if step.target is None
            else {"polygon_ref_px": [[float(x), float(y)] for x, y in step.target.polygon_ref_px]},
        }

    def to_json(self, language: str | None = None) -> dict[str, Any]:
        """The whole procedure for clients (``GET /api/procedures/{id}``; the ``procedure`` message),
        its texts in the language picked for ``language`` (None: the main language), each text a
        translation leaves out in the main one; ``language`` says which language it is in."""
        spec = procedure_in(self.spec, language)
        return {
            "id": self.id,
            "title": spec.title,
            "language": spec.language,
            "languages": list(self.languages()),
            "device": {
                "model": spec.device.model,
                "anchor": self.anchor,
                "reference_url": f"/api/procedures/{self.id}/reference",
                "reference_size": list(self.reference_size),
                "mat_url": f"/api/procedures/{self.id}/mat.pdf" if self._layout is not None else None,
            },
            "steps": [self._step_json(step) for step in spec.steps],
        }

    def summary_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.spec.title,
            "device_model": self.spec.device.model,
            "anchor": self.anchor,
            "step_count": len(self.spec.steps),
        }


class ProcedureLibrary:
    """Every procedure of some directories, by id, and what failed to load (with its path)."""

    def __init__(
        self,
        procedures: dict[str, LoadedProcedure] | None = None,
        errors: list[ProcedureLoadError] | None = None,
    ) -> None:
        self.procedures: dict[str, LoadedProcedure] = procedures or {}
        self.errors: list[ProcedureLoadError] = errors or []

    @classmethod
    def with_builtin(cls, extra_dirs: Sequence[Path] = ()) -> ProcedureLibrary:
        """The built-in procedures, then those of ``extra_dirs`` (a site's own, ``--procedures``):
        how the server and every command load the library."""
        return cls.load([BUILTIN_LIBRARY, *extra_dirs])

    @classmethod
    def load(cls, dirs: Sequence[Path]) -> ProcedureLibrary:
        """Load each procedure folder (a subfolder with procedure.yaml) of each directory, in order.

        A broken procedure is recorded in ``errors`` and the rest still load. When two folders
        give the same id, the first one loaded is kept and the second is an error naming both.
        """
        library = cls()
        for directory in dirs:
            directory = Path(directory)
            if not directory.is_dir():
                library.errors.append(ProcedureLoadError(directory, "not a directory (or it does not exist)"))
                continue
            if (directory / PROCEDURE_FILE).is_file():
                library.errors.append(
                    ProcedureLoadError(
                        directory,
                        f"this is a procedure folder itself; give the directory that holds procedure "
                        f"folders (here: {directory.parent})",
                    )
                )
                continue
            for folder in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if not (folder / PROCEDURE_FILE).is_file():
                    continue
                library._add(folder)
        return library

    def _add(self, folder: Path) -> None:
        try:
            loaded = load_procedure(folder)
        except ProcedureLoadError as exc:
            self.errors.append(exc)
            return
        first = self.procedures.get(loaded.id)
        if first is not None:
            self.errors.append(
                ProcedureLoadError(
                    folder / PROCEDURE_FILE,
                    f"id: {loaded.id!r} is already used by {first.folder / PROCEDURE_FILE}; that one is "
                    "kept and this one ignored (rename one of them)",
                )
            )
            return
        self.procedures[loaded.id] = loaded

    def get(self, procedure_id: str) -> LoadedProcedure | None:
        return self.procedures.get(procedure_id)

    def __contains__(self, procedure_id: object) -> bool:
        return procedure_id in self.procedures

    def __len__(self) -> int:
        return len(self.procedures)

    def summaries(self) -> list[dict[str, Any]]:
        """Every procedure's :meth:`LoadedProcedure.summary_json`, sorted by title."""
        return [
            p.summary_json() for p in sorted(self.procedures.values(), key=lambda p: (p.spec.title, p.id))
        ]
