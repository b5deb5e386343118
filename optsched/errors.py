"""Domain errors. Each names the field that is wrong, so every interface can
report it to the user (gRPC INVALID_ARGUMENT, HTTP 400, a CLI error line)."""

from __future__ import annotations


class OptschedError(Exception):
    """Base class of every error optsched raises on purpose."""


class DomainError(OptschedError, ValueError):
    """Invalid input: the ``field`` names the offending value, dotted path style
    (``nodes[3].capacity.cpu_millis``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ProblemTooLarge(DomainError):
    """The problem exceeds a configured size limit."""


class ConfigError(OptschedError, ValueError):
    """Bad configuration, reported at start-up rather than mid-request."""


class SolverError(OptschedError, RuntimeError):
    """A solver failed for a reason that is not the caller's input."""
