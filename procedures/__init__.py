"""Repair procedures as data: a ``procedure.yaml`` and its reference image per folder.

See docs/procedures.md for the format. :class:`ProcedureLibrary` loads folders of them (the
built-in ``procedures/library`` and any ``--procedures DIR``), keeping what failed to load with
its path; :class:`LoadedProcedure` gives a session what it needs (vision annotations and rules
per step, pipeline options, JSON for the clients).
"""

from procedures.loader import (
    BUILTIN_LIBRARY,
    PROCEDURE_FILE,
    LoadedProcedure,
    ProcedureLibrary,
    ProcedureLoadError,
    UnknownStepError,
    load_procedure,
)
from procedures.schema import CompletionSpec, DeviceSpec, ProcedureSpec, StepSpec, TargetSpec

__all__ = [
    "BUILTIN_LIBRARY",
    "PROCEDURE_FILE",
    "CompletionSpec",
    "DeviceSpec",
    "LoadedProcedure",
    "ProcedureLibrary",
    "ProcedureLoadError",
    "ProcedureSpec",
    "StepSpec",
    "TargetSpec",
    "UnknownStepError",
    "load_procedure",
]
