"""Service-level errors, each mapped to one gRPC status code by
:mod:`optsched.api.interceptors` (domain input errors are
:class:`optsched.errors.DomainError`)."""

from __future__ import annotations

from optsched.errors import OptschedError


class Overloaded(OptschedError):
    """The concurrency cap is reached (RESOURCE_EXHAUSTED)."""


class DeadlineExceeded(OptschedError):
    """No time is left for a solve before the caller's deadline (DEADLINE_EXCEEDED)."""


class NotFound(OptschedError):
    """No such job (NOT_FOUND)."""


class NotReady(OptschedError):
    """The job has no result yet, or never will (FAILED_PRECONDITION)."""
