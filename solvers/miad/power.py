"""GPU board power as a function of SM clock and utilisation.

Source: Qiu, UIUC dissertation 2024, Sec. 6.2.2 (Fig. 6.2): serving
gpt2-large on a Tesla V100, lowering the clock from 1300 MHz to 800 MHz
lowers power from 214 W to 120 W, with power "nearly linear" in frequency.
Assumption (not in the source): 40 W at idle, the draw nvidia-smi typically
reports for an idle V100 (SXM2/PCIe) with no clock lock.

Model: P_busy(f) = P_idle + A (f / F_REF)^gamma through both measured points
(A = 214 - 40 W at F_REF = 1300 MHz; gamma = ln(174/80) / ln(1300/800),
about 1.6, near-linear between the two points and tending to P_idle at low
clocks rather than below it as a straight line would); then
P(f, u) = P_idle + u (P_busy(f) - P_idle) for a utilisation u in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

V100_IDLE_W = 40.0  # assumption, see module docstring
GPT2_LARGE_V100_HIGH = (1300.0, 214.0)  # (MHz, W), Sec. 6.2.2
GPT2_LARGE_V100_LOW = (800.0, 120.0)  # (MHz, W), Sec. 6.2.2


@dataclass(frozen=True)
class PowerModel:
    idle_w: float = V100_IDLE_W
    high: tuple[float, float] = GPT2_LARGE_V100_HIGH
    low: tuple[float, float] = GPT2_LARGE_V100_LOW

    @property
    def gamma(self) -> float:
        return math.log((self.high[1] - self.idle_w) / (self.low[1] - self.idle_w)) / math.log(
            self.high[0] / self.low[0]
        )

    def busy_w(self, clock_mhz: float) -> float:
        return self.idle_w + (self.high[1] - self.idle_w) * (clock_mhz / self.high[0]) ** self.gamma

    def power_w(self, clock_mhz: float, utilization: float) -> float:
        u = min(1.0, max(0.0, utilization))
        return self.idle_w + u * (self.busy_w(clock_mhz) - self.idle_w)
