"""Discrete-event simulator of one model's backend pool under a policy.

Events, in time order: request arrivals (from the workload arrays), service
completions and provisioning completions (a heap), and policy ticks every
``policy.tick_s``. Dispatch follows the load-balancing assumption of the
response-time model: an arriving request from frontend f goes to the
longest-idle warm backend among the first in_use[f] of the ordered list; when
there is none it waits in the model's FIFO queue, and a backend that frees up
(or becomes ready) takes the oldest waiting request it is eligible for.
Models do not share backends, so each model is simulated on its own.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from optsched.errors import DomainError
from optsched.sim.lifecycle import PROVISIONING, WARM, BackendPool
from optsched.sim.metrics import ModelRun, share_of_windows_met, window_compliance
from optsched.sim.policy import AutoscalePolicy, Observation, ScalingDecision

_DONE, _READY = 0, 1
SERVICE_MEMORY = 1000  # completed execution times kept for the policy to fit


@dataclass(frozen=True)
class Workload:
    """One model's requests: arrival times (sorted), execution times and the
    frontend each arrives at, all seconds from the trace start."""

    arrivals_s: np.ndarray
    service_s: np.ndarray
    frontend: np.ndarray
    duration_s: float

    def __post_init__(self) -> None:
        n = len(self.arrivals_s)
        if len(self.service_s) != n or len(self.frontend) != n:
            raise DomainError("workload", "arrivals, service times and frontends differ in length")
        if n and (np.any(np.diff(self.arrivals_s) < 0) or self.arrivals_s[0] < 0):
            raise DomainError("workload.arrivals_s", "must be sorted and non-negative")
        if n and np.any(self.service_s <= 0):
            raise DomainError("workload.service_s", "must be positive")


@dataclass(frozen=True)
class SimConfig:
    frontends: int
    provisioning_delay_s: float
    initial_backends: int
    rt_max_s: float
    sl_min: float
    window_s: float


def counts_per_second(w: Workload, frontends: int) -> np.ndarray:
    """Requests per frontend per whole second of the trace."""
    seconds = int(math.ceil(w.duration_s)) + 1
    flat = w.frontend.astype(np.int64) * seconds + np.floor(w.arrivals_s).astype(np.int64)
    return (
        np.bincount(flat, minlength=frontends * seconds).reshape(frontends, seconds).astype(float)
    )


class _Run:
    """Mutable state of one simulation; ``simulate`` drives it."""

    def __init__(self, w: Workload, policy: AutoscalePolicy, cfg: SimConfig) -> None:
        self.w, self.policy, self.cfg = w, policy, cfg
        self.pool = BackendPool()
        self.pool.prewarm(cfg.initial_backends, 0.0)
        self.idle: deque[int] = deque(range(cfg.initial_backends))
        self.waiting: deque[int] = deque()
        self.heap: list[tuple[float, int, int, int]] = []  # (time, seq, kind, backend)
        self.seq = 0
        self.serving: dict[int, int] = {}  # backend -> request
        self.start_s: dict[int, float] = {}
        self.response = np.full(len(w.arrivals_s), np.inf)
        self.busy_done_s = 0.0
        self.busy_mark_s = 0.0
        self.recent: deque[float] = deque(maxlen=SERVICE_MEMORY)
        self.counts = counts_per_second(w, cfg.frontends)
        self.decision: ScalingDecision = policy.start(cfg.frontends, cfg.initial_backends)
        self._check(self.decision)
        self.times: list[float] = []
        self.active: list[int] = []

    def _check(self, d: ScalingDecision) -> None:
        if len(d.in_use) != self.cfg.frontends or min(d.in_use) < 0 or d.reserve < 0:
            raise DomainError(
                "decision.in_use",
                f"needs {self.cfg.frontends} non-negative counts and a non-negative reserve, "
                f"got {d.in_use} and {d.reserve}",
            )

    def _push(self, t: float, kind: int, j: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, j))

    def _start(self, i: int, j: int, t: float) -> None:
        self.pool.busy[j] = True
        self.serving[j] = i
        self.start_s[j] = t
        self._push(t + float(self.w.service_s[i]), _DONE, j)

    def _take_idle(self, limit: int, t: float) -> int:
        """The longest-idle warm backend below ``limit``, or -1; drops
        backends whose idle timeout ran out on the way."""
        pool, timeout = self.pool, self.policy.idle_timeout_s
        for pos, j in enumerate(self.idle):
            if j < limit and pool.states[j] == WARM:
                if pool.expired(j, t, timeout):
                    continue
                del self.idle[pos]
                return j
        return -1

    def arrive(self, i: int, t: float) -> None:
        j = self._take_idle(self.decision.in_use[int(self.w.frontend[i])], t)
        if j >= 0:
            self._start(i, j, t)
        else:
            self.waiting.append(i)

    def _next_waiting(self, j: int) -> int:
        """The oldest waiting request whose frontend dispatches to backend j."""
        if j >= self.decision.target:
            return -1
        in_use, fe = self.decision.in_use, self.w.frontend
        for pos, i in enumerate(self.waiting):
            if j < in_use[int(fe[i])]:
                del self.waiting[pos]
                return i
        return -1

    def _free(self, j: int, t: float) -> None:
        """Backend j is warm and idle at t: serve, release, or wait."""
        pool = self.pool
        pool.busy[j] = False
        pool.last_used_s[j] = t
        if pool.release_pending[j]:
            pool.release(j, t)
            return
        i = self._next_waiting(j)
        if i >= 0:
            self._start(i, j, t)
        else:
            self.idle.append(j)

    def complete(self, j: int, t: float) -> None:
        i = self.serving.pop(j)
        s = float(self.w.service_s[i])
        self.response[i] = t - float(self.w.arrivals_s[i])
        self.busy_done_s += s
        self.recent.append(s)
        del self.start_s[j]
        self._free(j, t)

    def ready(self, j: int, t: float) -> None:
        if self.pool.ready(j, t):
            self._free(j, t)

    def _expire_idle(self, t: float) -> None:
        timeout = self.policy.idle_timeout_s
        if timeout is None:
            return
        keep: deque[int] = deque()
        for j in self.idle:
            if self.pool.expired(j, t, timeout):
                self.pool.expire(j, timeout)
            elif self.pool.states[j] == WARM:
                keep.append(j)
        self.idle = keep

    def _busy_since_last(self, t: float) -> float:
        total = self.busy_done_s + sum(t - s for s in self.start_s.values())
        busy, self.busy_mark_s = total - self.busy_mark_s, total
        return busy

    def tick(self, t: float) -> None:
        self._expire_idle(t)
        pool = self.pool
        obs = Observation(
            now_s=t,
            counts_per_s=self.counts[:, : int(t)],
            busy_s=self._busy_since_last(t),
            period_s=self.policy.tick_s,
            warm_backends=pool.count(WARM),
            provisioning_backends=pool.count(PROVISIONING),
            recent_service_s=self.recent,
        )
        d = self.policy.decide(obs)
        self._check(d)
        self.decision = d
        for j in range(d.held):
            if pool.provision(j, t, self.cfg.provisioning_delay_s):
                self._push(t + self.cfg.provisioning_delay_s, _READY, j)
        self._hold_reserve(d, t)
        if d.release_surplus:
            self._release_beyond(d.held, t)
        self._drain(t)
        self.times.append(t)
        self.active.append(len(pool.states) - pool.states.count(0))

    def _hold_reserve(self, d: ScalingDecision, t: float) -> None:
        """Held reserve backends count as used at every tick, so their idle
        timeout runs from the last tick that held them."""
        pool = self.pool
        for j in range(d.target, min(d.held, len(pool.states))):
            if pool.states[j] == WARM and not pool.busy[j]:
                pool.last_used_s[j] = t

    def _release_beyond(self, target: int, t: float) -> None:
        pool = self.pool
        for j in range(target, len(pool.states)):
            if pool.busy[j]:
                pool.release_pending[j] = True
            else:
                pool.release(j, t)
        self.idle = deque(j for j in self.idle if pool.states[j] == WARM)

    def _drain(self, t: float) -> None:
        """Start waiting requests on idle backends a new decision opened up."""
        for j in list(self.idle):
            if not self.waiting:
                return
            i = self._next_waiting(j)
            if i >= 0:
                self.idle.remove(j)
                self._start(i, j, t)


def simulate(w: Workload, policy: AutoscalePolicy, cfg: SimConfig) -> ModelRun:
    """Replay ``w`` under ``policy``; every request is served to completion
    (ticks stop at the trace end, the pool is released when the last
    request finishes or at the trace end, whichever is later)."""
    run = _Run(w, policy, cfg)
    arrivals, n = w.arrivals_s, len(w.arrivals_s)
    tick_s = policy.tick_s
    i, next_tick = 0, tick_s
    heap = run.heap
    inf = math.inf
    while True:
        t_arr = float(arrivals[i]) if i < n else inf
        t_heap = heap[0][0] if heap else inf
        t_tick = next_tick if next_tick <= w.duration_s else inf
        if t_heap <= t_arr and t_heap <= t_tick:
            if t_heap == inf:
                break
            t, _, kind, j = heapq.heappop(heap)
            if kind == _DONE:
                run.complete(j, t)
            else:
                run.ready(j, t)
        elif t_tick <= t_arr:
            run.tick(t_tick)
            next_tick += tick_s
        else:
            run.arrive(i, t_arr)
            i += 1
    return _finish(run, w, cfg)


def _finish(run: _Run, w: Workload, cfg: SimConfig) -> ModelRun:
    end_s = max(
        w.duration_s, float(np.max(w.arrivals_s + run.response)) if len(w.arrivals_s) else 0.0
    )
    run._expire_idle(end_s)
    backend_s = run.pool.close(end_s)
    frac = window_compliance(w.arrivals_s, run.response, cfg.rt_max_s, cfg.window_s, w.duration_s)
    within = float(np.mean(run.response <= cfg.rt_max_s)) if len(w.arrivals_s) else 1.0
    return ModelRun(
        policy=run.policy.name,
        backend_seconds=backend_s,
        response_s=run.response,
        window_fraction=frac,
        windows_met=share_of_windows_met(frac, cfg.sl_min),
        requests_within=within,
        timeline_s=np.asarray(run.times),
        timeline_backends=np.asarray(run.active),
        activations=run.pool.activations,
    )
