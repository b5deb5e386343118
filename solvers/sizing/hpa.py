"""The Kubernetes Horizontal Pod Autoscaler rule as a baseline policy.

From the HPA documentation (kubernetes.io, "Horizontal Pod Autoscaling",
algorithm details):
    desiredReplicas = ceil(currentReplicas * currentMetricValue / desiredMetricValue)
skipped when the ratio is within the tolerance (default 0.1) of 1.0; pods not
yet ready count as using 0 % of the metric when scaling up; scale-down uses
the highest recommendation of the stabilization window (default 300 s);
the controller runs every sync period (default 15 s). The metric here is
backend utilization (busy time over backend time since the last sync).
Scale-in removes the surplus backends at once (busy ones after their request).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from optsched.errors import DomainError
from optsched.sim.policy import Observation, ScalingDecision

HPA_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance default
HPA_SCALE_DOWN_STABILIZATION_S = 300.0  # behavior.scaleDown.stabilizationWindowSeconds default
HPA_SYNC_PERIOD_S = 15.0  # --horizontal-pod-autoscaler-sync-period default
# The HPA walkthrough's example target (kubectl autoscale ... --cpu-percent=50).
HPA_TARGET_UTILIZATION = 0.5


def hpa_desired(
    current: int, utilization: float, target: float, tolerance: float = HPA_TOLERANCE
) -> int:
    """ceil(current x utilization / target), or current within the tolerance."""
    ratio = utilization / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(current * ratio)


@dataclass
class HpaPolicy:
    target_utilization: float = HPA_TARGET_UTILIZATION
    tick_s: float = HPA_SYNC_PERIOD_S
    stabilization_s: float = HPA_SCALE_DOWN_STABILIZATION_S
    min_replicas: int = 1
    max_replicas: int = 1000
    name: str = "hpa"
    idle_timeout_s: float | None = None
    _current: int = 0
    _frontends: int = 1
    _recommendations: deque[tuple[float, int]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not 0 < self.target_utilization <= 1:
            raise DomainError(
                "target_utilization", f"must lie in (0, 1], got {self.target_utilization}"
            )

    def start(self, frontends: int, initial_backends: int) -> ScalingDecision:
        self._frontends = frontends
        self._current = max(initial_backends, self.min_replicas)
        return ScalingDecision((self._current,) * frontends)

    def decide(self, obs: Observation) -> ScalingDecision:
        # Replicas still provisioning are in currentReplicas with 0 % usage.
        utilization = obs.busy_s / (self._current * obs.period_s)
        desired = min(
            max(
                hpa_desired(self._current, utilization, self.target_utilization), self.min_replicas
            ),
            self.max_replicas,
        )
        recs = self._recommendations
        recs.append((obs.now_s, desired))
        while recs and recs[0][0] <= obs.now_s - self.stabilization_s:
            recs.popleft()
        if desired < self._current:
            desired = min(self._current, max(r for _, r in recs))
        self._current = desired
        return ScalingDecision((desired,) * self._frontends, release_surplus=True)
