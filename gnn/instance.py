"""The static part of a rescheduling problem, compiled once into numpy arrays.

The learned rescheduler's environment (:mod:`optsched.gnn.env`) runs ``B``
copies of one problem side by side; everything that does not change when VMs
move lives here and is shared by the copies. Shapes use ``M`` VMs, ``H``
hosts, ``S = 2`` NUMA slots per host and ``R`` resources.

The rules encoded here are those of :class:`~optsched.problems.VmRescheduling`
(the same ones the validator checks, written from the problem definition):

* a VM moves only if ``movable``, only to a host of its own ``cluster`` that is
  schedulable, not excluded, not tainted against it (``NoSchedule`` /
  ``NoExecute`` without a toleration) and matching its ``node_selector``;
* it lands on one NUMA node, or (``numa_split``) on both NUMA nodes of a
  two-NUMA host with half of each request on each (a split VM with an odd
  request never moves); every resource must fit on each NUMA node it uses and
  on the host; a VM may change NUMA node on its own host;
* each move of a VM counts against its owner's disruption budget;
* a required anti-affinity term forbids a VM holding the term and a VM matched
  by its selector (in its namespaces) from sharing a topology domain.

A host without NUMA nodes is one unit (slot 0, slot 1 empty), as in
:func:`optsched.metrics.free_cpu_units`. Hosts with more than two NUMA nodes and
positive (anti-anti) affinity terms are outside what the learned policy
supports; :func:`compile_instance` refuses them with a :class:`DomainError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.errors import DomainError
from optsched.model import MEMORY_MB, Item, LabelSelector, Node, compile_snapshot
from optsched.problems import VmRescheduling

NUMA_SLOTS = 2
_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True)
class AntiAffinityGroup:
    """One distinct required anti-affinity term: no ``holder`` may share a
    domain with a (different) ``member``. ``domain_of_host`` is ``[H]`` int,
    -1 where the host lacks the topology label."""

    domain_of_host: np.ndarray
    n_domains: int
    member: np.ndarray  # [M] bool
    holder: np.ndarray  # [M] bool


@dataclass(frozen=True)
class Instance:
    """A compiled :class:`VmRescheduling`; see the module docstring."""

    problem: VmRescheduling
    vm_ids: tuple[str, ...]
    host_names: tuple[str, ...]
    resources: tuple[str, ...]
    cpu: int  # column of the CPU resource
    mem: int  # column of the memory resource used in features (-1 if none)
    vm_req: np.ndarray  # [M, R] total request
    vm_share: np.ndarray  # [M, R] use per NUMA node: half a split request, rounded up
    vm_split: np.ndarray  # [M] bool
    vm_movable: np.ndarray  # [M] bool
    vm_owner: np.ndarray  # [M] int index into owner_budget, -1 without a budget
    owner_budget: np.ndarray  # [O] int: moves each budgeted owner may make
    vm_class: np.ndarray  # [M] int: VMs with equal requests, shape and allowed hosts
    class_allowed: np.ndarray  # [C, H] bool: hosts a class may land on (rules without capacity)
    class_need: np.ndarray  # [C, R] room needed per NUMA node used (rounded up)
    class_split: np.ndarray  # [C] bool
    host_counted: np.ndarray  # [H] bool: schedulable hosts count in the fragment rate
    unit_cap: np.ndarray  # [H, S, R] NUMA capacity less reservation
    unit_valid: np.ndarray  # [H, S] bool: the unit exists (counts in the fragment rate)
    host_cap: np.ndarray  # [H, R] host capacity less reservation
    host_numa: np.ndarray  # [H] number of NUMA nodes (0: the host is one unit)
    init_host: np.ndarray  # [M] int
    init_slots: np.ndarray  # [M, S] bool
    groups: tuple[AntiAffinityGroup, ...]

    @property
    def n_vms(self) -> int:
        return len(self.vm_ids)

    @property
    def n_hosts(self) -> int:
        return len(self.host_names)

    @property
    def n_units(self) -> int:
        return self.n_hosts * NUMA_SLOTS


def _tolerates(item: Item, node: Node) -> bool:
    blocking = [t for t in node.taints if t.effect in _BLOCKING_EFFECTS]
    return all(any(tol.tolerates(t) for tol in item.tolerations) for t in blocking)


def _selects(item: Item, node: Node) -> bool:
    return all(node.labels.get(k) == v for k, v in item.node_selector.items())


def _allowed_hosts(problem: VmRescheduling, item: Item) -> np.ndarray:
    snap = problem.snapshot
    return np.array(
        [
            n.cluster == item.cluster
            and problem.is_destination(n.name)
            and _tolerates(item, n)
            and _selects(item, n)
            for n in snap.nodes
        ],
        dtype=bool,
    )


def _class_key(item: Item) -> tuple[object, ...]:
    return (
        tuple(sorted(item.requests.quantities.items())),
        item.numa_split,
        item.cluster,
        tuple(sorted(item.node_selector.items())),
        item.tolerations,
    )


def _classes(problem: VmRescheduling) -> tuple[np.ndarray, np.ndarray]:
    """``vm_class [M]`` and ``class_allowed [C, H]``."""
    keys: dict[tuple[object, ...], int] = {}
    rows: list[np.ndarray] = []
    vm_class = np.zeros(len(problem.snapshot.items), dtype=np.int64)
    for m, item in enumerate(problem.snapshot.items):
        key = _class_key(item)
        if key not in keys:
            keys[key] = len(rows)
            rows.append(_allowed_hosts(problem, item))
        vm_class[m] = keys[key]
    n_hosts = len(problem.snapshot.nodes)
    allowed = np.stack(rows) if rows else np.zeros((0, n_hosts), dtype=bool)
    return vm_class, allowed


def _groups(problem: VmRescheduling) -> tuple[AntiAffinityGroup, ...]:
    snap = problem.snapshot
    holders: dict[tuple[LabelSelector, str, tuple[str, ...]], list[int]] = {}
    for m, item in enumerate(snap.items):
        if item.affinity:
            raise DomainError(
                f"items[{item.item_id}].affinity",
                "the learned rescheduler does not support required affinity terms",
            )
        for term in item.anti_affinity:
            spaces = term.namespaces or (item.namespace,)
            holders.setdefault((term.selector, term.topology_key, spaces), []).append(m)
    out = []
    for (selector, topo, spaces), ms in holders.items():
        values = [n.label(topo) for n in snap.nodes]
        index = {v: i for i, v in enumerate(sorted({v for v in values if v is not None}))}
        member = np.array(
            [it.namespace in spaces and selector.matches(it.labels) for it in snap.items]
        )
        holder = np.zeros(len(snap.items), dtype=bool)
        holder[ms] = True
        dom = np.array([index[v] if v is not None else -1 for v in values], dtype=np.int64)
        out.append(AntiAffinityGroup(dom, len(index), member, holder))
    return tuple(out)


def _budgets(problem: VmRescheduling) -> tuple[np.ndarray, np.ndarray]:
    """Owner index per VM (-1 when its owner has no disruption budget) and
    the budgets; every move of an owner's VM counts against its budget."""
    budgets = problem.snapshot.disruption_budgets
    names = sorted(budgets)
    index = {n: i for i, n in enumerate(names)}
    owner = np.array([index.get(it.owner, -1) for it in problem.snapshot.items], dtype=np.int64)
    return owner, np.array([budgets[n] for n in names], dtype=np.int64)


def _resource_columns(resources: tuple[str, ...], cpu_resource: str) -> tuple[int, int]:
    if cpu_resource not in resources:
        raise DomainError("cpu_resource", f"no item or host has resource {cpu_resource!r}")
    mem = resources.index(MEMORY_MB) if MEMORY_MB in resources else -1
    if mem < 0:
        mem = next((i for i, r in enumerate(resources) if r.startswith("memory")), -1)
    return resources.index(cpu_resource), mem


def compile_instance(problem: VmRescheduling) -> Instance:
    """Compile ``problem`` (see the module docstring for what is refused)."""
    snap = problem.snapshot
    cc = compile_snapshot(snap)
    if cc.numa_capacity.shape[1] > NUMA_SLOTS:
        raise DomainError("nodes.numa", "the learned rescheduler supports at most 2 NUMA nodes")
    n_hosts, n_res = cc.n_nodes, len(cc.resources)
    unit_cap = np.zeros((n_hosts, NUMA_SLOTS, n_res), dtype=np.int64)
    unit_cap[:, : cc.numa_capacity.shape[1]] = cc.numa_capacity
    numa_count = np.array([len(n.numa) for n in snap.nodes])
    flat = numa_count == 0
    unit_cap[flat, 0] = cc.capacity[flat]
    cpu, mem = _resource_columns(cc.resources, problem.cpu_resource)
    unit_valid = unit_cap[:, :, cpu] > 0
    unit_valid[flat, 0] = True
    slots = np.zeros((cc.n_items, NUMA_SLOTS), dtype=bool)
    slots[:, : cc.numa_of.shape[1]] = cc.numa_of
    slots[flat[cc.node_of], 0] = True
    split = cc.numa_split
    vm_class, class_allowed = _classes(problem)
    owner, budget = _budgets(problem)
    # a split VM needs a two-NUMA host
    for c in np.unique(vm_class[split]):
        class_allowed[c] &= numa_count == NUMA_SLOTS
    first = np.array(
        [int(np.argmax(vm_class == c)) for c in range(class_allowed.shape[0])], dtype=np.int64
    )
    return Instance(
        problem=problem,
        vm_ids=tuple(it.item_id for it in snap.items),
        host_names=tuple(n.name for n in snap.nodes),
        resources=cc.resources,
        cpu=cpu,
        mem=mem,
        vm_req=cc.requests,
        vm_share=-(-cc.requests // np.where(split, 2, 1)[:, None]),
        vm_split=split,
        vm_movable=cc.movable & ~(split & (cc.requests % 2 != 0).any(axis=1)),
        vm_owner=owner,
        owner_budget=budget,
        vm_class=vm_class,
        class_allowed=class_allowed,
        class_need=-(-cc.requests[first] // np.where(split[first], 2, 1)[:, None]),
        class_split=split[first],
        host_counted=cc.schedulable.copy(),
        unit_cap=unit_cap,
        unit_valid=unit_valid,
        host_cap=cc.capacity,
        host_numa=numa_count,
        init_host=cc.node_of.copy(),
        init_slots=slots,
        groups=_groups(problem),
    )
