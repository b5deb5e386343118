"""Properties of the validator: random feasible answers (built by a simple
first-fit written here with the model's own matching helpers) validate, and a
perturbation that breaks one constraint is caught with the right code."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from vbuild import item, move, node, numa_node, place, result, term, vm

from optsched import metrics
from optsched.model import ZONE_KEY, Assignment, Item, Node, Snapshot, Taint, Toleration
from optsched.problems import PodPlacement, VmRescheduling
from optsched.results import Action
from optsched.validate import validate

CPU = "cpu_millis"
GPU_TAINT = Taint("dedicated", "gpu", "NoSchedule")
TOLERATE_ALL = (Toleration(operator="Exists"),)
FAST = settings(max_examples=60, deadline=None)


@dataclass
class Pods:
    nodes: list[Node]
    items: list[Item]
    running: int  # the first `running` items placed by first-fit are the snapshot


@st.composite
def pods(draw: st.DrawFn) -> Pods:
    nodes = [
        node(
            f"n{i}",
            draw(st.integers(1, 8)) * 500,
            labels={ZONE_KEY: draw(st.sampled_from(["z1", "z2"]))},
            taints=(GPU_TAINT,) if draw(st.booleans()) else (),
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    items = []
    for j in range(draw(st.integers(1, 12))):
        app = draw(st.sampled_from(["a", "b", "c"]))
        zone = draw(st.sampled_from([None, "z1", "z2"]))
        items.append(
            item(
                f"p{j}",
                draw(st.integers(0, 20)) * 100,
                labels={"app": app},
                priority=draw(st.sampled_from([0, 10, 100])),
                anti_affinity=(term(app=app),) if draw(st.booleans()) else (),
                tolerations=(Toleration("dedicated", "Equal", "gpu"),)
                if draw(st.booleans())
                else (),
                node_selector={ZONE_KEY: zone} if zone else {},
            )
        )
    return Pods(nodes, items, draw(st.integers(0, len(items))))


def _fits(it: Item, n: Node, free: dict[str, int], on: dict[str, list[Item]]) -> bool:
    if it.requests[CPU] > free[n.name]:
        return False
    if any(n.labels.get(k) != v for k, v in it.node_selector.items()):
        return False
    if any(not any(t.tolerates(taint) for t in it.tolerations) for taint in n.taints):
        return False
    for other in on[n.name]:
        if any(t.selector.matches(other.labels) for t in it.anti_affinity):
            return False
        if any(t.selector.matches(it.labels) for t in other.anti_affinity):
            return False
    return True


def first_fit(nodes: list[Node], items: list[Item]) -> dict[str, str]:
    free = {n.name: n.capacity[CPU] for n in nodes}
    on: dict[str, list[Item]] = {n.name: [] for n in nodes}
    out = {}
    for it in items:
        n = next((n for n in nodes if _fits(it, n, free, on)), None)
        if n is not None:
            free[n.name] -= it.requests[CPU]
            on[n.name].append(it)
            out[it.item_id] = n.name
    return out


def build(case: Pods, extra: list[Item] = ()) -> tuple[PodPlacement, dict[str, str], list[Action]]:  # type: ignore[assignment]
    """The problem (first `running` items placed), the first-fit map, and the
    plan placing the rest."""
    where = first_fit(case.nodes, case.items)
    running = {it.item_id for it in case.items[: case.running]}
    snap_where = {i: Assignment(n) for i, n in where.items() if i in running}
    snap = Snapshot(tuple(case.nodes), tuple(case.items) + tuple(extra), snap_where)
    plan = [place(i, n) for i, n in where.items() if i not in running]
    return PodPlacement(snap), where, plan


def _unplaced(case: Pods, where: dict[str, str]) -> tuple[str, ...]:
    return tuple(it.item_id for it in case.items if it.item_id not in where)


@FAST
@given(pods())
def test_first_fit_validates(case: Pods) -> None:
    problem, where, plan = build(case)
    report = validate(problem, result(*plan, unplaced=_unplaced(case, where)))
    assert report.ok, report.summary()
    assert report.metrics["placed"] == len(where)
    assert sum(report.metrics["objective_key"][:-2]) == len(case.items) - len(where)


def _free(case: Pods, where: dict[str, str], name: str) -> int:
    cap = next(n for n in case.nodes if n.name == name).capacity[CPU]
    return cap - sum(it.requests[CPU] for it in case.items if where.get(it.item_id) == name)


def _check_one_more(case: Pods, x: Item, target: str, code: str) -> None:
    problem, where, plan = build(case, [x])
    report = validate(
        problem, result(*plan, place(x.item_id, target), unplaced=_unplaced(case, where))
    )
    assert report.codes() == {code}, report.summary()
    assert {(v.item_id, v.step) for v in report.violations} == {(x.item_id, len(plan))}


@FAST
@given(pods(), st.data())
def test_over_capacity_caught(case: Pods, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(case.nodes)).name
    where = first_fit(case.nodes, case.items)
    cpu = _free(case, where, target) + data.draw(st.integers(1, 1000))
    _check_one_more(case, item("x", cpu, tolerations=TOLERATE_ALL), target, "capacity")


@FAST
@given(pods(), st.data())
def test_selector_violation_caught(case: Pods, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(case.nodes))
    other = "z2" if target.labels[ZONE_KEY] == "z1" else "z1"
    x = item("x", 0, tolerations=TOLERATE_ALL, node_selector={ZONE_KEY: other})
    _check_one_more(case, x, target.name, "node_selector")


@FAST
@given(pods(), st.data())
def test_untolerated_taint_caught(case: Pods, data: st.DataObject) -> None:
    tainted = [n for n in case.nodes if n.taints]
    assume(tainted)
    target = data.draw(st.sampled_from(tainted)).name
    tol = data.draw(
        st.sampled_from(
            [(), (Toleration("dedicated", "Equal", "cpu"),), (Toleration("other", "Exists"),)]
        )
    )
    _check_one_more(case, item("x", 0, tolerations=tol), target, "taint")


@FAST
@given(pods(), st.data(), st.booleans())
def test_anti_affinity_clash_caught(case: Pods, data: st.DataObject, symmetric: bool) -> None:
    where = first_fit(case.nodes, case.items)
    assume(where)
    victim = data.draw(st.sampled_from(sorted(where)))
    app = case.items[int(victim[1:])].labels["app"]
    if symmetric:  # the existing item carries the term, the newcomer matches it
        # (an added term no generated item matches leaves the first fit unchanged)
        case.items = [
            replace(it, anti_affinity=(*it.anti_affinity, term(app="x")))
            if it.item_id == victim
            else it
            for it in case.items
        ]
        x = item("x", 0, labels={"app": "x"}, tolerations=TOLERATE_ALL)
    else:
        x = item("x", 0, tolerations=TOLERATE_ALL, anti_affinity=(term(app=app),))
    _check_one_more(case, x, where[victim], "anti_affinity")


@FAST
@given(pods(), st.data())
def test_immovable_move_caught(case: Pods, data: st.DataObject) -> None:
    where = first_fit(case.nodes, case.items)
    running = [it.item_id for it in case.items[: case.running] if it.item_id in where]
    assume(running)
    pinned = data.draw(st.sampled_from(running))
    case.items = [replace(it, movable=False) if it.item_id == pinned else it for it in case.items]
    problem, where, plan = build(case)
    report = validate(
        problem,
        result(move(pinned, where[pinned], where[pinned]), *plan, unplaced=_unplaced(case, where)),
    )
    assert report.codes() == {"immovable"}, report.summary()


@FAST
@given(st.integers(1, 40), st.integers(1, 40), st.data())
def test_swap_in_wrong_order_caught(p_cpu: int, q_cpu: int, data: st.DataObject) -> None:
    b_cap = data.draw(st.integers(max(p_cpu, q_cpu), p_cpu + q_cpu - 1))
    a_cap = data.draw(st.integers(max(p_cpu, q_cpu), 80))
    snap = Snapshot(
        (node("a", a_cap * 100), node("b", b_cap * 100), node("spare", 8000)),
        (item("p", p_cpu * 100), item("q", q_cpu * 100)),
        {"p": Assignment("a"), "q": Assignment("b")},
    )
    problem = PodPlacement(snap)
    wrong = validate(problem, result(move("p", "a", "b"), move("q", "b", "a")))
    assert wrong.codes() == {"move_order"}, wrong.summary()
    assert [v.step for v in wrong.violations] == [0]
    right = validate(
        problem, result(move("q", "b", "spare"), move("p", "a", "b"), move("q", "spare", "a"))
    )
    assert right.ok, right.summary()


@dataclass
class Vms:
    snapshot: Snapshot
    moves: list[Action]


def _vm_fit(
    v: Item, free: dict[tuple[str, int], int], hosts: list[str], skip: str = ""
) -> Assignment | None:
    for h in hosts:
        if h == skip:
            continue
        cores = v.requests["cpu_cores"]
        if v.numa_split and free[(h, 0)] >= cores // 2 and free[(h, 1)] >= cores // 2:
            return Assignment(h, (0, 1))
        for k in (0, 1):
            if not v.numa_split and free[(h, k)] >= cores:
                return Assignment(h, (k,))
    return None


def _take(v: Item, a: Assignment, free: dict[tuple[str, int], int], sign: int) -> None:
    for k in a.numa:
        free[(a.node, k)] -= sign * v.requests["cpu_cores"] // len(a.numa)


@st.composite
def vms(draw: st.DrawFn) -> Vms:
    hosts = [
        numa_node(f"h{i}", cores=draw(st.sampled_from([8, 16, 24, 32])))
        for i in range(draw(st.integers(2, 5)))
    ]
    names = [h.name for h in hosts]
    free = {(h.name, k): h.numa[k].capacity["cpu_cores"] for h in hosts for k in (0, 1)}
    where: dict[str, Assignment] = {}
    items = []
    for j in range(draw(st.integers(1, 12))):
        split = draw(st.booleans())
        v = vm(
            f"v{j}",
            draw(st.sampled_from([2, 4, 8, 16] if split else [1, 2, 4, 8])),
            mem=0,
            numa_split=split,
        )
        a = _vm_fit(v, free, names)
        if a is not None:
            _take(v, a, free, +1)
            items.append(v)
            where[v.item_id] = a
    assume(items)
    moves = []
    for v in draw(st.lists(st.sampled_from(items), max_size=6)):
        dst = _vm_fit(v, free, draw(st.permutations(names)), skip=where[v.item_id].node)
        if dst is not None:
            _take(v, where[v.item_id], free, -1)
            _take(v, dst, free, +1)
            moves.append(move(v.item_id, where[v.item_id], dst))
            where[v.item_id] = dst
    return Vms(Snapshot(tuple(hosts), tuple(items), _initial(items, moves, where)), moves)


def _initial(
    items: list[Item], moves: list[Action], final: dict[str, Assignment]
) -> dict[str, Assignment]:
    first: dict[str, Assignment] = {}
    for m in moves:
        assert m.source is not None
        first.setdefault(m.item_id, m.source)
    return {v.item_id: first.get(v.item_id, final[v.item_id]) for v in items}


@FAST
@given(vms(), st.sampled_from([4, 8, 16]))
def test_valid_moves_validate_and_rate_matches_metrics(case: Vms, fragment: int) -> None:
    problem = VmRescheduling(
        case.snapshot, migration_limit=len(case.moves), fragment_cores=fragment
    )
    report = validate(problem, result(*case.moves))
    assert report.ok, report.summary()
    final_where = dict(problem.snapshot.assignments)
    final_where.update({m.item_id: m.target for m in case.moves if m.target is not None})
    final = case.snapshot.with_assignments(final_where)
    assert report.objective == metrics.fragment_rate(final, fragment_cores=fragment)
    assert report.metrics["moves"] == len(case.moves)


@FAST
@given(vms())
def test_migration_limit_caught(case: Vms) -> None:
    assume(case.moves)
    problem = VmRescheduling(case.snapshot, migration_limit=len(case.moves) - 1)
    assert validate(problem, result(*case.moves)).codes() == {"migration_limit"}
