"""What an autoscaling policy sees and decides in the simulator.

Every ``tick_s`` the simulator gives the policy an :class:`Observation` and
gets back a :class:`ScalingDecision`: for each frontend, how many leading
backends of the model's ordered list it dispatches to (Swayam's
coordination-free agreement: frontend f uses backends 0 .. in_use[f] - 1;
swayam-middleware-2017-slides.txt, "frontends use backends 1-9, backends
10-12 transition to not-in-use state"). Backends below max(in_use) that are
cold get provisioned; what happens to the others is the policy's lifecycle:
released at once (``release_surplus``) or after ``idle_timeout_s`` without a
request. A decision may also hold ``reserve`` backends warm beyond
max(in_use): Swayam's warm not-in-use state kept on purpose (provisioned
ahead, no requests, no idle timeout while held; they cost like any other
non-cold backend).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ScalingDecision:
    in_use: tuple[int, ...]  # per frontend
    release_surplus: bool = False
    reserve: int = 0  # warm not-in-use backends held beyond max(in_use)

    @property
    def target(self) -> int:
        return max(self.in_use)

    @property
    def held(self) -> int:
        """Backends kept provisioned or warm: in use by some frontend, or reserve."""
        return self.target + self.reserve


@dataclass(frozen=True)
class Observation:
    """The state a policy may look at: only the past.

    ``counts_per_s[f, k]`` is the number of requests frontend f received in
    second k, for k < floor(now); ``busy_s`` is the busy backend-time since
    the previous tick; ``recent_service_s`` holds the execution times of the
    most recently completed requests.
    """

    now_s: float
    counts_per_s: np.ndarray
    busy_s: float
    period_s: float
    warm_backends: int
    provisioning_backends: int
    recent_service_s: Sequence[float]


class AutoscalePolicy(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tick_s(self) -> float:
        """Seconds between decisions."""
        ...

    @property
    def idle_timeout_s(self) -> float | None:
        """Lazy scale-in; None: backends are only released by release_surplus."""
        ...

    def start(self, frontends: int, initial_backends: int) -> ScalingDecision:
        """The decision in force from t = 0 until the first tick."""
        ...

    def decide(self, obs: Observation) -> ScalingDecision: ...
