"""The independent validator: checks any answer against its problem and
recomputes the objective. It shares no code with any solver (it does not even
use the compiled numpy view the solvers use): every check here is written from
the problem's definition.

:func:`validate` dispatches on the problem kind to a checker module under
:mod:`optsched.validation`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from optsched.problems.base import ProblemKind
from optsched.results import SolveResult
from optsched.validation.report import ValidationReport, Violation

_CHECKERS: dict[ProblemKind, str] = {
    ProblemKind.POD_PLACEMENT: "optsched.validation.placement:validate_placement",
    ProblemKind.VM_PLACEMENT: "optsched.validation.placement:validate_placement",
    ProblemKind.VM_RESCHEDULING: "optsched.validation.rescheduling:validate_rescheduling",
    ProblemKind.GPU_PARTITION_PLACEMENT: "optsched.validation.gpu:validate_partitions",
    ProblemKind.MODEL_PLACEMENT: "optsched.validation.gpu:validate_model_placement",
    ProblemKind.BACKEND_SIZING: "optsched.validation.sizing:validate_sizing",
    ProblemKind.FREQUENCY_CONTROL: "optsched.validation.frequency:validate_frequency",
}


# checkers already imported, by kind (the import is resolved once per kind)
_LOADED: dict[ProblemKind, Callable[[Any, SolveResult], ValidationReport]] = {}


def validate(problem: Any, result: SolveResult) -> ValidationReport:
    """Every violation of ``result`` against ``problem`` (empty when valid),
    and the objective recomputed from the answer alone."""
    checker = _LOADED.get(problem.kind)
    if checker is None:
        module, func = _CHECKERS[problem.kind].split(":")
        checker = _LOADED[problem.kind] = getattr(importlib.import_module(module), func)
    report: ValidationReport = checker(problem, result)
    return report


__all__ = ["ValidationReport", "Violation", "validate"]
