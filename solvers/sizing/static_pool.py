"""A static pool provisioned for the peak: n backends warm for the whole
trace, n sized by Swayam's response-time model at U x the trace's peak
one-minute rate (the capacity an operator who knows the peak would buy)."""

from __future__ import annotations

from dataclasses import dataclass

from optsched.errors import DomainError
from optsched.sim.policy import Observation, ScalingDecision


@dataclass
class StaticPolicy:
    backends: int
    name: str = "static-peak"
    tick_s: float = 60.0
    idle_timeout_s: float | None = None
    _frontends: int = 1

    def __post_init__(self) -> None:
        if self.backends < 1:
            raise DomainError("backends", f"must be at least 1, got {self.backends}")

    def _decision(self) -> ScalingDecision:
        return ScalingDecision((self.backends,) * self._frontends, release_surplus=True)

    def start(self, frontends: int, initial_backends: int) -> ScalingDecision:
        self._frontends = frontends
        return self._decision()

    def decide(self, obs: Observation) -> ScalingDecision:
        return self._decision()
