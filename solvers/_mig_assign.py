"""Turning the aggregated CP-SAT answer (GPUs per final state, requests per
class and GPU model) into per-GPU plans with concrete instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from optsched.model.cluster import Gpu, MigInstance
from optsched.model.mig import load_catalog
from optsched.problems.gpu import GpuPartitionPlacement, MigGpuPlan, MigSolution
from optsched.solvers._mig_common import ClassKey, LayoutState, Placement, build_plan

if TYPE_CHECKING:
    from optsched.solvers.mig_cpsat import Group, Option

Slot = tuple[int, str | Placement]  # (GPU index, existing idle instance id or new placement)


def idle_in_signature_order(g: Gpu) -> list[MigInstance]:
    return sorted((i for i in g.instances if not i.busy), key=lambda i: (i.profile, i.start_slice))


def _states(groups: Sequence[Group], counts: Sequence[Sequence[int]]) -> dict[int, Option]:
    out: dict[int, Option] = {}
    for s, g in enumerate(groups):
        it = iter(g.gpus)
        for j, o in enumerate(g.options):
            for _ in range(counts[s][j]):
                out[next(it)] = o
    return out


def _pools(
    problem: GpuPartitionPlacement, states: Mapping[int, Option]
) -> dict[tuple[str, str], list[Slot]]:
    """Free instances per (model, profile): GPUs with busy instances first,
    then input order; on one GPU, reused idle instances before new ones."""
    pools: dict[tuple[str, str], list[Slot]] = {}
    busy_first = sorted(
        states, key=lambda k: (not any(i.busy for i in problem.gpus[k].instances), k)
    )
    for k in busy_first:
        g, o = problem.gpus[k], states[k]
        idle = idle_in_signature_order(g)
        for idx in o.kept:
            pools.setdefault((g.model, idle[idx].profile), []).append((k, idle[idx].instance_id))
        for pl in o.created:
            pools.setdefault((g.model, pl[0]), []).append((k, pl))
    return pools


def _finish(g: Gpu, o: Option, assigned: dict[str, str | Placement]) -> MigGpuPlan | None:
    """Drop unused new instances, keep destroyed idle ones that still fit."""
    busy = any(i.busy for i in g.instances)
    if not assigned and not busy:
        return None
    spec = load_catalog()[g.model]
    taken = set(assigned.values())
    created = [pl for pl in o.created if pl in taken]
    idle = idle_in_signature_order(g)
    kept = [idle[k] for k in o.kept]
    layout = (
        [(i.profile, i.start_slice) for i in g.instances if i.busy]
        + [(i.profile, i.start_slice) for i in kept]
        + created
    )
    state = LayoutState.of(spec, layout)
    destroy = []
    kept_ids = {i.instance_id for i in kept}
    for inst in g.instances:
        if inst.busy or inst.instance_id in kept_ids:
            continue
        prof = spec.profile(inst.profile)
        assert prof is not None
        if state.can_add(prof, inst.start_slice):
            state.add(prof, inst.start_slice)
        else:
            destroy.append(inst.instance_id)
    if not assigned and not created and not destroy:
        return None
    return build_plan(g, spec, destroy, created, assigned)


def assign_requests(
    problem: GpuPartitionPlacement,
    groups: Sequence[Group],
    classes: Mapping[ClassKey, Sequence[Any]],
    res: Mapping[tuple[ClassKey, str], str],
    counts: Sequence[Sequence[int]],
    a_vals: Mapping[tuple[ClassKey, str], int],
) -> MigSolution:
    states = _states(groups, counts)
    pools = _pools(problem, states)
    heads = dict.fromkeys(pools, 0)
    assigned: dict[int, dict[str, str | Placement]] = {}
    for c, reqs in classes.items():
        queue = iter(reqs)
        for mdl in sorted({m for (cc, m) in a_vals if cc == c}):
            key = (mdl, res[c, mdl])
            for _ in range(a_vals[c, mdl]):
                if heads.get(key, 0) >= len(pools.get(key, ())):
                    break  # cannot happen when the capacity constraints hold
                k, slot = pools[key][heads[key]]
                heads[key] += 1
                assigned.setdefault(k, {})[next(queue).request_id] = slot
    plans = [
        p
        for k in sorted(states)
        if (p := _finish(problem.gpus[k], states[k], assigned.get(k, {}))) is not None
    ]
    return MigSolution(tuple(plans))
