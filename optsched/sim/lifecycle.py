"""The backend lifecycle of one model's ordered backend list.

Each slot of the list is COLD (in the global pool, costs nothing),
PROVISIONING (allocated to the model, not yet serving; costs), or WARM
(serving or idle; costs). Swayam's states map onto these: warm in-use and
warm not-in-use are both WARM, told apart by the frontends' ``in_use`` count,
not by the slot (swayam-middleware-2017-slides.txt, "Key idea 1: assign
states to each backend"). A warm idle backend that received no request for
``idle_timeout_s`` returns itself to the pool at last_used + timeout, without
any frontend telling it to (the self-decommissioning of Swayam's abstract).

Backend-seconds = sum over activations of (time back to COLD - time it left
COLD), the resource cost every policy is compared on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COLD, PROVISIONING, WARM = 0, 1, 2


@dataclass
class BackendPool:
    states: list[int] = field(default_factory=list)
    busy: list[bool] = field(default_factory=list)
    last_used_s: list[float] = field(default_factory=list)
    active_since_s: list[float] = field(default_factory=list)
    release_pending: list[bool] = field(default_factory=list)
    ready_at_s: list[float] = field(default_factory=list)
    backend_seconds: float = 0.0
    activations: int = 0

    def _grow(self, size: int) -> None:
        while len(self.states) < size:
            self.states.append(COLD)
            self.busy.append(False)
            self.last_used_s.append(0.0)
            self.active_since_s.append(0.0)
            self.release_pending.append(False)
            self.ready_at_s.append(0.0)

    def prewarm(self, count: int, now_s: float) -> None:
        """Slots 0..count-1 start WARM and idle (pre-provisioned)."""
        self._grow(count)
        for j in range(count):
            self._activate(j, now_s)
            self.states[j] = WARM
            self.last_used_s[j] = now_s

    def _activate(self, j: int, now_s: float) -> None:
        self.active_since_s[j] = now_s
        self.release_pending[j] = False
        self.activations += 1

    def provision(self, j: int, now_s: float, delay_s: float) -> bool:
        """Start provisioning slot j if it is COLD (ready at now + delay);
        True when it did. A slot marked for release is kept instead."""
        self._grow(j + 1)
        if self.states[j] != COLD:
            self.release_pending[j] = False
            return False
        self._activate(j, now_s)
        self.states[j] = PROVISIONING
        self.ready_at_s[j] = now_s + delay_s
        return True

    def ready(self, j: int, now_s: float) -> bool:
        """Provisioning finished; False when the slot was released (and
        perhaps provisioned again) since this provisioning started."""
        if self.states[j] != PROVISIONING or self.ready_at_s[j] != now_s:
            return False
        self.states[j] = WARM
        self.last_used_s[j] = now_s
        return True

    def release(self, j: int, at_s: float) -> None:
        """Slot j goes back to the pool at ``at_s``."""
        if self.states[j] == COLD:
            return
        self.backend_seconds += at_s - self.active_since_s[j]
        self.states[j] = COLD
        self.busy[j] = False
        self.release_pending[j] = False

    def expired(self, j: int, now_s: float, idle_timeout_s: float | None) -> bool:
        """Whether warm idle slot j has been idle for the timeout by now."""
        return (
            idle_timeout_s is not None
            and self.states[j] == WARM
            and not self.busy[j]
            and now_s - self.last_used_s[j] >= idle_timeout_s
        )

    def expire(self, j: int, idle_timeout_s: float) -> None:
        """Release slot j at the moment its idle timeout ran out."""
        self.release(j, self.last_used_s[j] + idle_timeout_s)

    def count(self, state: int) -> int:
        return sum(1 for s in self.states if s == state)

    def close(self, end_s: float) -> float:
        """Release everything at ``end_s``; the total backend-seconds."""
        for j, s in enumerate(self.states):
            if s != COLD:
                self.release(j, end_s)
        return self.backend_seconds
