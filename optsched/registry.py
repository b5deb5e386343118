"""The solver registry: name -> factory. Duplicate names are an error.

Solver modules under :mod:`optsched.solvers` register themselves at import
time with :func:`register`; :func:`load_builtin` imports them all once. The
registry itself imports no solver library, so the core stays light.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from optsched.errors import ConfigError
from optsched.problems.base import ProblemKind
from optsched.solver import Solver

SolverFactory = Callable[..., Solver]


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, SolverFactory] = {}
        self._kinds: dict[str, frozenset[ProblemKind]] = {}

    def register(
        self, name: str, factory: SolverFactory, problem_kinds: frozenset[ProblemKind]
    ) -> None:
        if name in self._factories:
            raise ConfigError(f"solver {name!r} is registered twice")
        self._factories[name] = factory
        self._kinds[name] = problem_kinds

    def create(self, name: str, **config: Any) -> Solver:
        try:
            factory = self._factories[name]
        except KeyError:
            raise ConfigError(
                f"unknown solver {name!r}; known: {', '.join(sorted(self._factories))}"
            ) from None
        return factory(**config)

    def names(self, problem_kind: ProblemKind | None = None) -> list[str]:
        return sorted(
            n for n, k in self._kinds.items() if problem_kind is None or problem_kind in k
        )

    def __contains__(self, name: object) -> bool:
        return name in self._factories


REGISTRY = Registry()
_loaded = False


def register(
    name: str, problem_kinds: frozenset[ProblemKind] | set[ProblemKind]
) -> Callable[[SolverFactory], SolverFactory]:
    """Decorator for a solver factory (usually the solver class)."""

    def deco(factory: SolverFactory) -> SolverFactory:
        REGISTRY.register(name, factory, frozenset(problem_kinds))
        return factory

    return deco


def load_builtin() -> Registry:
    """Import every module of :mod:`optsched.solvers` once, so that each
    registers its solvers, and return the registry."""
    global _loaded
    if not _loaded:
        _loaded = True
        pkg = importlib.import_module("optsched.solvers")
        for info in sorted(
            pkgutil.walk_packages(pkg.__path__, prefix="optsched.solvers."), key=lambda i: i.name
        ):
            if info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            importlib.import_module(info.name)
    return REGISTRY


def create(name: str, **config: Any) -> Solver:
    return load_builtin().create(name, **config)
