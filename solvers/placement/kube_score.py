"""kube-scheduler's default node scoring, with its integer formulas
(kubernetes v1.29, pkg/scheduler/framework/plugins/noderesources):

- NodeResourcesFit, strategy LeastAllocated, cpu and memory, weight 1 each:
  per resource ``(allocatable - requested) * 100 // allocatable`` (0 when
  requested exceeds allocatable), averaged with integer division. Requests
  are the "non-zero" ones: a pod requesting no cpu counts 100m, no memory
  200 MiB (``pkg/scheduler/util/pod_resources.go``).
- NodeResourcesBalancedAllocation: the fractions ``requested/allocatable``
  (capped at 1) of cpu and memory with the actual requests; for two
  resources ``std = |f0 - f1| / 2``, else the population standard deviation;
  score ``int((1 - std) * 100)``.

Both plugins have weight 1 in the default profile; a node's score is the sum.
``requested`` includes the incoming pod.
"""

from __future__ import annotations

import numpy as np

from optsched.model import CPU_CORES, CPU_MILLIS, MEMORY_MB, MEMORY_MIB
from optsched.solvers.placement.topology import Topology

MAX_NODE_SCORE = 100
DEFAULT_MILLI_CPU_REQUEST = 100  # pkg/scheduler/util: DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST_MIB = 200  # pkg/scheduler/util: DefaultMemoryRequest (200 MiB)


def scored_columns(topo: Topology) -> list[int]:
    """The cpu and memory columns (VM units as fallback)."""
    cols = [topo.cc.col(r) for r in (CPU_MILLIS, MEMORY_MIB) if r in topo.cc.resources]
    if not cols:
        cols = [topo.cc.col(r) for r in (CPU_CORES, MEMORY_MB) if r in topo.cc.resources]
    return cols


def nonzero_requests(topo: Topology, cols: list[int]) -> np.ndarray:
    """[M, len(cols)] requests with kube's defaults for zero cpu/memory."""
    req = topo.cc.requests[:, cols].copy()
    defaults = {CPU_MILLIS: DEFAULT_MILLI_CPU_REQUEST, MEMORY_MIB: DEFAULT_MEMORY_REQUEST_MIB}
    for j, c in enumerate(cols):
        d = defaults.get(topo.cc.resources[c], 0)
        req[:, j] = np.where(req[:, j] == 0, d, req[:, j])
    return req


def least_allocated(alloc: np.ndarray, requested: np.ndarray) -> np.ndarray:
    """[N] integer scores from [N, R] allocatable and requested."""
    valid = alloc > 0
    safe = np.where(valid, alloc, 1)
    per = np.where(requested > alloc, 0, (alloc - requested) * MAX_NODE_SCORE // safe)
    per = np.where(valid, per, 0)
    count = valid.sum(axis=1)
    return np.where(count > 0, per.sum(axis=1) // np.maximum(count, 1), 0)


def balanced_allocation(alloc: np.ndarray, requested: np.ndarray) -> np.ndarray:
    """[N] integer scores from [N, R] allocatable and requested."""
    valid = alloc > 0
    f = np.where(valid, np.minimum(requested / np.where(valid, alloc, 1), 1.0), np.nan)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore"):
        std = np.where(count > 1, np.nanstd(np.where(count[:, None] > 0, f, 0.0), axis=1), 0.0)
    if f.shape[1] == 2:
        std = np.where(count == 2, np.abs((f[:, 0] - f[:, 1]) / 2), std)
    return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)
