"""Helpers shared by the MIG solvers (not by the validator): per-GPU layout
state, layout enumeration, request classes, plan assembly and the
lexicographic objective used to compare two answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from optsched.model.cluster import Gpu, MigInstance
from optsched.model.mig import GpuModelSpec, MigProfile, load_catalog
from optsched.problems.gpu import GpuPartitionPlacement, MigGpuPlan, MigRequest, MigSolution
from optsched.results import Unplaced

Placement = tuple[str, int]  # (profile name, start memory slice)


@dataclass
class LayoutState:
    """A GPU's instances as occupancy bits and counters, for O(1) fit tests."""

    spec: GpuModelSpec
    mask: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    media: int = 0
    compute: int = 0

    def can_add(self, p: MigProfile, start: int) -> bool:
        return (
            start in p.starts
            and not self.mask & p.mask(start)
            and self.counts.get(p.name, 0) < p.max_count
            and self.media + p.media_extensions <= self.spec.max_media_extension_instances
            and self.compute + p.compute_slices <= self.spec.compute_slices
        )

    def add(self, p: MigProfile, start: int) -> None:
        self.mask |= p.mask(start)
        self.counts[p.name] = self.counts.get(p.name, 0) + 1
        self.media += p.media_extensions
        self.compute += p.compute_slices

    def first_start(self, p: MigProfile) -> int | None:
        for s in p.starts:
            if self.can_add(p, s):
                return s
        return None

    @classmethod
    def of(cls, spec: GpuModelSpec, placements: Iterable[Placement]) -> LayoutState:
        st = cls(spec)
        for name, start in placements:
            prof = spec.profile(name)
            assert prof is not None
            st.add(prof, start)
        return st


@cache
def maximal_completions(
    model: str, base: tuple[Placement, ...]
) -> tuple[tuple[Placement, ...], ...]:
    """Every maximal valid layout that contains ``base`` (the added
    placements only), by depth-first search over the model's placements in
    catalog order: each subset is visited once, and a leaf is kept when no
    placement can be added to it."""
    spec = load_catalog()[model]
    options = spec.placements()
    out: list[tuple[Placement, ...]] = []
    st = LayoutState.of(spec, base)

    def dfs(i: int, chosen: list[Placement], state: LayoutState) -> None:
        extended = False
        for k in range(i, len(options)):
            p, s = options[k]
            if state.can_add(p, s):
                nxt = LayoutState(spec, state.mask, dict(state.counts), state.media, state.compute)
                nxt.add(p, s)
                dfs(k + 1, [*chosen, (p.name, s)], nxt)
                extended = True
        if not extended and not any(state.can_add(p, s) for p, s in options):
            out.append(tuple(chosen))

    dfs(0, [], st)
    return tuple(out)


ClassKey = tuple[str | None, float, int, int]  # (profile, min memory GB, min compute, priority)


def class_key(r: MigRequest) -> ClassKey:
    return (r.profile, r.min_memory_gb, r.min_compute_slices, r.priority)


def request_classes(requests: Sequence[MigRequest]) -> dict[ClassKey, list[MigRequest]]:
    """Interchangeable requests grouped, each group in input order."""
    out: dict[ClassKey, list[MigRequest]] = {}
    for r in requests:
        out.setdefault(class_key(r), []).append(r)
    return out


def new_instance_id(gpu_id: str, profile: str, start: int) -> str:
    return f"{gpu_id}/{start}:{profile}"


def creation_order(created: Iterable[Placement], spec: GpuModelSpec) -> list[Placement]:
    """Largest instances first, then by start slice: the order in which
    NVIDIA's placement-less ``nvidia-smi mig -cgi`` lands each instance
    where the plan puts it, and with explicit placements any order works."""

    def key(pl: Placement) -> tuple[int, int, int]:
        prof = spec.profile(pl[0])
        assert prof is not None
        return (-prof.memory_slices, -prof.compute_slices, pl[1])

    return sorted(created, key=key)


def build_plan(
    gpu: Gpu,
    spec: GpuModelSpec,
    destroyed: Iterable[str],
    created: Iterable[Placement],
    assignments: Mapping[str, str | Placement],
) -> MigGpuPlan:
    """A GPU's plan. ``assignments`` maps request ids to an existing
    instance id or to a created placement."""
    new_ids = {pl: new_instance_id(gpu.gpu_id, *pl) for pl in created}
    create = tuple(MigInstance(new_ids[pl], pl[0], pl[1]) for pl in creation_order(new_ids, spec))
    assigned = {r: (new_ids[v] if isinstance(v, tuple) else v) for r, v in assignments.items()}
    gone = set(destroyed)
    return MigGpuPlan(
        gpu.gpu_id,
        tuple(i.instance_id for i in gpu.instances if i.instance_id in gone),
        create,
        assigned,
    )


def lex_objective(problem: GpuPartitionPlacement, solution: MigSolution) -> tuple[int, ...]:
    """The problem's lexicographic objective as a tuple to maximise: placed
    per priority (highest first), then minus GPUs used, minus reconfigured
    busy GPUs, minus idle instances destroyed."""
    placed = solution.assignments()
    tiers = sorted({r.priority for r in problem.requests}, reverse=True)
    per_tier = [
        sum(1 for r in problem.requests if r.priority == t and r.request_id in placed)
        for t in tiers
    ]
    plans = {p.gpu_id: p for p in solution.plans}
    used = reconf = destroyed = 0
    for g in problem.gpus:
        plan = plans.get(g.gpu_id)
        busy = any(i.busy for i in g.instances)
        serves = plan is not None and bool(plan.assignments)
        used += busy or serves
        if plan is not None:
            destroyed += len(plan.destroy)
            reconf += busy and bool(plan.destroy or plan.create)
    return (*per_tier, -used, -reconf, -destroyed)


def unplaced_reasons(problem: GpuPartitionPlacement, placed: Iterable[str]) -> tuple[Unplaced, ...]:
    done = set(placed)
    catalog = load_catalog()
    models = sorted({g.model for g in problem.gpus})
    out = []
    for r in problem.requests:
        if r.request_id in done:
            continue
        fits = [m for m in models if r.resolve(catalog[m]) is not None]
        if not fits:
            want = (
                f"profile {r.profile}"
                if r.profile
                else f">= {r.min_memory_gb} GB and >= {r.min_compute_slices} compute slices"
            )
            reason = f"no GPU model in the cluster ({', '.join(models) or 'none'}) offers {want}"
        else:
            reason = f"no free MIG capacity on {', '.join(fits)} GPUs at priority {r.priority} (higher-priority or earlier requests took it)"
        out.append(Unplaced(r.request_id, reason))
    return tuple(out)
