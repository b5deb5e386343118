"""Backend lifecycle: provisioning delay, idle-timeout scale-in, release,
and the accounting of backend-seconds."""

from dataclasses import dataclass

import numpy as np
import pytest

from optsched.sim.lifecycle import COLD, PROVISIONING, WARM, BackendPool
from optsched.sim.policy import Observation, ScalingDecision
from optsched.sim.simulator import SimConfig, Workload, simulate


@dataclass
class Scripted:
    """in_use per tick from a schedule of (from_s, n)."""

    schedule: list[tuple[float, int]]
    idle_timeout_s: float | None = 10.0
    release: bool = False
    tick_s: float = 1.0
    name: str = "scripted"

    def _n(self, t: float) -> int:
        return [n for start, n in self.schedule if start <= t][-1]

    def start(self, frontends: int, initial_backends: int) -> ScalingDecision:
        return ScalingDecision((self._n(0.0),) * frontends, self.release)

    def decide(self, obs: Observation) -> ScalingDecision:
        return ScalingDecision((self._n(obs.now_s),) * obs.counts_per_s.shape[0], self.release)


def test_pool_idle_timeout_releases_at_last_use_plus_timeout() -> None:
    pool = BackendPool()
    pool.prewarm(2, 0.0)
    pool.last_used_s[1] = 4.0
    assert pool.expired(0, 10.0, 10.0) and not pool.expired(1, 10.0, 10.0)
    pool.expire(0, 10.0)
    assert pool.states[0] == COLD and pool.backend_seconds == pytest.approx(10.0)
    assert pool.close(20.0) == pytest.approx(30.0)


def test_stale_ready_event_is_ignored_after_reprovisioning() -> None:
    pool = BackendPool()
    assert pool.provision(0, 0.0, 5.0) and pool.states[0] == PROVISIONING
    pool.release(0, 1.0)
    assert pool.provision(0, 2.0, 5.0)
    assert not pool.ready(0, 5.0)  # the first provisioning's event
    assert pool.ready(0, 7.0) and pool.states[0] == WARM


def _sparse_workload(times_s: list[float], service_s: float, duration_s: float) -> Workload:
    t = np.asarray(times_s)
    return Workload(t, np.full(t.size, service_s), np.zeros(t.size, dtype=int), duration_s)


def test_surplus_backends_scale_in_after_the_idle_timeout() -> None:
    # 4 backends in use until t = 20, then 1: backends 1-3 get no requests
    # after t = 20 and go cold 10 s after their last request.
    w = _sparse_workload([float(t) + 0.25 for t in range(40)], 0.1, 40.0)
    policy = Scripted([(0.0, 4), (20.0, 1)], idle_timeout_s=10.0)
    run = simulate(w, policy, SimConfig(1, 5.0, 4, 1.0, 0.99, 10.0))
    counts = dict(zip(run.timeline_s.tolist(), run.timeline_backends.tolist(), strict=True))
    assert counts[20.0] == 4
    assert counts[35.0] == 1  # last uses of 1-3 were before t = 20.1, expired by t = 30.1
    # Backend 0 warm throughout; 1-3 each from 0 until last use + 10 s.
    assert 40.0 + 3 * 20.0 <= run.backend_seconds <= 40.0 + 3 * 31.0


def test_scale_out_waits_for_the_provisioning_delay() -> None:
    # One backend, then 3 from t = 2: two requests at t = 3 find only one
    # backend ready (the others are ready at t = 7).
    w = _sparse_workload([3.0, 3.0, 3.0, 10.0, 10.0, 10.0], 2.0, 12.0)
    policy = Scripted([(0.0, 1), (2.0, 3)], idle_timeout_s=None)
    run = simulate(w, policy, SimConfig(1, 5.0, 1, 2.5, 0.99, 12.0))
    assert run.response_s[:3].tolist() == pytest.approx(
        [2.0, 4.0, 6.0]
    )  # FIFO on one backend until t = 7
    assert run.response_s[3:].tolist() == pytest.approx([2.0, 2.0, 2.0])  # three warm backends


def test_release_surplus_frees_backends_at_once() -> None:
    w = _sparse_workload([0.5], 0.1, 10.0)
    policy = Scripted([(0.0, 4), (3.0, 1)], idle_timeout_s=None, release=True)
    run = simulate(w, policy, SimConfig(1, 5.0, 4, 1.0, 0.99, 10.0))
    assert run.backend_seconds == pytest.approx(10.0 + 3 * 3.0)
