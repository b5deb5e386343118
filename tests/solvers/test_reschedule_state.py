import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reschedule_cases import node, problem, snapshot, vm

from optsched.errors import DomainError
from optsched.metrics import fragment_rate
from optsched.model import CPU_CORES, compile_snapshot
from optsched.solvers.reschedule.state import RescheduleState


def _two_hosts() -> RescheduleState:
    snap = snapshot(
        [node("h0"), node("h1")],
        [(vm("a", 4), "h0", (0,)), (vm("b", 4), "h0", (1,)), (vm("c", 8), "h1", (0,))],
    )
    return RescheduleState.from_problem(problem(snap, 5))


def test_fragment_rate_and_reward_on_hand_built_hosts() -> None:
    s = _two_hosts()
    # free 12, 12 | 8, 16: remainders mod 16 are 12 + 12 + 8 + 0 over 48 free
    assert s.fragment_rate() == pytest.approx(32 / 48)
    b, h1 = s.vm_ids.index("b"), s.host_names.index("h1")
    reward = s.move(b, h1, (0,))  # free 12, 16 | 4, 16
    assert reward == pytest.approx(32 / 48 - 16 / 48)
    s.move(s.vm_ids.index("a"), h1, (0,))  # free 16, 16 | 0, 16
    assert s.fragment_rate() == 0.0
    assert [a.item_id for a in s.plan().moves] == ["b", "a"]


def test_rules_cluster_destination_capacity_split_and_pins() -> None:
    snap = snapshot(
        [node("h0"), node("h1"), node("h2", schedulable=False), node("x", cluster="other")],
        [
            (vm("s", 8, split=True), "h0", (0, 1)),
            (vm("p", 4, movable=False), "h0", (0,)),
            (vm("big", 14), "h1", (0,)),
            (vm("o", 2, cluster="other"), "x", (0,)),
        ],
    )
    s = RescheduleState.from_problem(problem(snap, 5, excluded_hosts=frozenset()))
    split = s.target_mask(s.vm_ids.index("s"))
    # the split VM needs 4 + 4 on the two NUMA nodes of h1: NUMA 0 has only 2 free
    assert not split.any()
    assert not s.target_mask(s.vm_ids.index("p")).any()  # pinned
    big = s.host_mask(s.vm_ids.index("big"))
    assert big.tolist() == [False, True, False, False]  # only h1's other NUMA node; h2 is off
    assert s.can_move(s.vm_ids.index("big"), 1, (1,))
    o = s.target_mask(s.vm_ids.index("o"))
    assert np.argwhere(o).tolist() == [[3, 1]]  # its own cluster only, the other NUMA node
    excl = RescheduleState.from_problem(problem(snap, 5, excluded_hosts=frozenset({"h1"})))
    assert not excl.host_mask(excl.vm_ids.index("big")).any()


def test_anti_affinity_blocks_colocation_both_ways() -> None:
    snap = snapshot(
        [node("h0"), node("h1"), node("h2")],
        [
            (vm("d0", 2, deployment_set="ds"), "h0", (0,)),
            (vm("d1", 2, deployment_set="ds"), "h1", (0,)),
            (vm("free", 2), "h1", (1,)),
        ],
    )
    s = RescheduleState.from_problem(problem(snap, 5))
    assert s.host_mask(s.vm_ids.index("d0")).tolist() == [True, False, True]
    s.move(s.vm_ids.index("d1"), 2, (0,))
    assert s.host_mask(s.vm_ids.index("d0")).tolist() == [True, True, False]
    assert s.host_mask(s.vm_ids.index("free")).all()


def test_reservations_stay_and_fragment_rate_matches_metrics() -> None:
    snap = snapshot(
        [node("h0", reserved_cpu=(3, 0)), node("h1", schedulable=False)],
        [(vm("a", 4), "h0", (0,)), (vm("b", 6), "h1", (1,))],
    )
    s = RescheduleState.from_problem(problem(snap, 2))
    assert s.fragment_rate() == pytest.approx(fragment_rate(snap))
    # NUMA 0 of h0 has 16 - 3 - 4 = 9 free: the 6-core VM fits there, not a 10-core one
    s.move(s.vm_ids.index("b"), 0, (0,))
    assert int(s.numa_free[0, 0, s.cpu_col]) == 3


def test_bad_input_names_the_field() -> None:
    snap = snapshot([node("h0")], [(vm("a", 4, split=True), "h0", (0,))])
    with pytest.raises(DomainError, match=r"assignments\[a\]\.numa"):
        RescheduleState.from_problem(problem(snap, 1))
    snap = snapshot([node("h0", numa_cpu=2)], [(vm("a", 4), "h0", (0,))])
    with pytest.raises(DomainError, match=r"nodes\[h0\]"):
        RescheduleState.from_problem(problem(snap, 1))


@st.composite
def _random_cluster(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    n_hosts = draw(st.integers(2, 4))
    nodes = [node(f"h{i}", 12) for i in range(n_hosts)]
    free = {(h, k): 12 for h in range(n_hosts) for k in (0, 1)}
    placed = []
    for j in range(draw(st.integers(1, 8))):
        cpu = draw(st.sampled_from([2, 4, 6, 8]))
        split = draw(st.booleans())
        h = draw(st.integers(0, n_hosts - 1))
        numa = (0, 1) if split else (draw(st.integers(0, 1)),)
        share = cpu // len(numa)
        if all(free[(h, k)] >= share for k in numa):
            for k in numa:
                free[(h, k)] -= share
            placed.append((vm(f"v{j}", cpu, split=split), f"h{h}", numa))
    seed = draw(st.integers(0, 2**16))
    return snapshot(nodes, placed), seed


@settings(max_examples=40, deadline=None)
@given(_random_cluster())
def test_random_moves_keep_state_equal_to_a_fresh_compile(case) -> None:  # type: ignore[no-untyped-def]
    snap, seed = case
    s = RescheduleState.from_problem(problem(snap, 10, fragment_cores=8))
    rng = np.random.default_rng(seed)
    for _ in range(6):
        options = [
            (v, *np.argwhere(s.target_mask(v))[i])
            for v in range(s.n_vms)
            for i in range(int(s.target_mask(v).sum()))
        ]
        if not options:
            break
        v, h, p = options[int(rng.integers(len(options)))]
        s.move(int(v), int(h), s.placements[int(p)])
    after = snap.with_assignments(s.plan().final_assignments(snap))
    cc = compile_snapshot(after)
    assert (cc.numa_used() <= cc.numa_capacity).all()
    assert s.fragment_rate() == pytest.approx(fragment_rate(after, 8))
    fresh = RescheduleState.from_problem(problem(after, 10, fragment_cores=8))
    assert np.array_equal(fresh.numa_free, s.numa_free)
    assert int(s.numa_free[:, :, s.cpu_col].sum()) == int(
        cc.numa_capacity[:, :, cc.col(CPU_CORES)].sum()
        - cc.numa_used()[:, :, cc.col(CPU_CORES)].sum()
    )
