"""The gnn-reschedule solver: registry, configuration, validated plans."""

from __future__ import annotations

import pytest
from gnn_cases import problems
from hypothesis import given, settings
from reschedule_cases import brute_force, instances

from optsched import names
from optsched.budget import Budget
from optsched.datasets.vmr2l import load_shipped
from optsched.errors import ConfigError
from optsched.metrics import fragment_rate
from optsched.model import CPU_CORES, Assignment, Item, Node, NumaNode, Resources, Snapshot
from optsched.problems import VmRescheduling
from optsched.registry import create, load_builtin
from optsched.results import Status
from optsched.solver import SolverKind
from optsched.validate import validate


def test_registered_as_learned() -> None:
    assert names.GNN_RESCHEDULE in load_builtin().names()
    solver = create(names.GNN_RESCHEDULE)
    assert solver.capabilities.kind is SolverKind.LEARNED


@pytest.mark.parametrize(
    "config",
    [
        {"k": 0},
        {"k": 1000},
        {"top_frac": 0.0},
        {"threads": 0},
        {"checkpoint": "/nope"},
        {"local_search_share": -0.1},
        {"local_search_share": 1.0},
        {"temperature": 0.0},
        {"price_share": 1.0},
        {"local_search_share": 0.5, "price_share": 0.5},
    ],
)
def test_bad_configuration_fails_at_construction(config) -> None:
    with pytest.raises(ConfigError):
        create(names.GNN_RESCHEDULE, **config)


def test_shipped_checkpoint_plans_on_medium_snapshot() -> None:
    snap = load_shipped("medium")
    problem = VmRescheduling(snap, migration_limit=10)
    result = create(names.GNN_RESCHEDULE, k=2).solve(problem, Budget(60))
    # with time to price, the configuration bound proves its plan optimal
    assert result.status is Status.OPTIMAL, result.message
    assert result.best_bound == pytest.approx(0.8508, abs=5e-5)
    report = validate(problem, result)
    assert report.ok, report.summary()
    assert report.objective == pytest.approx(result.objective)
    assert report.objective <= fragment_rate(snap) + 1e-12
    assert len(result.plan.moves) <= 10


def test_the_shipped_checkpoint_follows_the_initial_fragment_rate() -> None:
    """The fine-tuned checkpoint plans production-like fragmentation (the
    shipped snapshot, FR0 0.977); the base one VMR2L-like instances (0.556);
    a named checkpoint plans everything."""
    from optsched.datasets.rescheduling import training_instance
    from optsched.gnn import checkpoint
    from optsched.solvers.learned_reschedule import FRAGMENTED_FROM

    medium = load_shipped("medium")
    low = training_instance(medium, 0)
    assert fragment_rate(low) < FRAGMENTED_FROM < fragment_rate(medium)
    used = {}
    for name, snap in (("low", low), ("high", medium)):
        problem = VmRescheduling(snap, migration_limit=3)
        result = create(names.GNN_RESCHEDULE, k=1).solve(problem, Budget(60))
        assert validate(problem, result).ok
        used[name] = result.stats["checkpoint"]
    assert used == {"low": checkpoint.SHIPPED_NAME, "high": checkpoint.FRAGMENTED_NAME}
    base = str(checkpoint.shipped_path())
    named = create(names.GNN_RESCHEDULE, k=1, checkpoint=base)
    result = named.solve(VmRescheduling(medium, migration_limit=3), Budget(60))
    assert result.stats["checkpoint"] == checkpoint.SHIPPED_NAME
    # both carry the serving schema and their training record
    _, fine = checkpoint.load(checkpoint.shipped_path(checkpoint.FRAGMENTED_NAME))
    assert max(fine["args"]["fragment_rates"]) >= 0.95 and fine["args"]["init"]


@settings(max_examples=25, deadline=None)
@given(problems())
def test_every_learned_plan_validates(problem) -> None:
    result = create(names.GNN_RESCHEDULE, k=4, top_frac=0.5).solve(problem, Budget(30))
    assert result.status in {Status.FEASIBLE, Status.OPTIMAL}, (result.message, problem)
    report = validate(problem, result)
    assert report.ok, report.summary()
    assert report.objective <= report.metrics["fragment_rate_initial"] + 1e-12


@settings(max_examples=20, deadline=None)
@given(problems())
def test_recombining_never_loses_to_the_policys_best_trajectory(problem) -> None:
    """Same seed, same K: the served plan (trajectories recombined, the local
    search's plan among the candidates) is at least as good as the policy's
    best trajectory alone, and says where it came from."""
    config = {"k": 4, "temperature": 1.0}
    alone = create(names.GNN_RESCHEDULE, recombine=False, local_search_share=0.0, **config)
    served = create(names.GNN_RESCHEDULE, **config)
    a, b = alone.solve(problem, Budget(30)), served.solve(problem, Budget(30))
    assert a.stats["plan_source"] == "policy"
    assert b.stats["plan_source"] in {"policy", "local search", "recombined", "priced"}
    ra, rb = validate(problem, a), validate(problem, b)
    assert ra.ok and rb.ok, rb.summary()
    assert rb.objective <= ra.objective + 1e-12


@settings(max_examples=60, deadline=None)
@given(instances(exotic=True))
def test_the_learned_solvers_bound_holds_and_its_proofs_are_optimal(p) -> None:
    """Against brute force: the configuration bound the learned solver
    reports never exceeds the optimum, and a plan it calls OPTIMAL is."""
    result = create(names.GNN_RESCHEDULE, k=2).solve(p, Budget(30))
    if result.status is Status.INVALID_INPUT:  # a layout the policy does not plan
        return
    report = validate(p, result)
    assert report.ok, report.summary()
    best = brute_force(p)
    if result.best_bound is not None:
        assert result.best_bound <= best + 1e-9
    if result.status is Status.OPTIMAL:
        assert report.objective == pytest.approx(best, abs=1e-9)
    else:
        assert result.status is Status.FEASIBLE


def test_unsupported_layout_is_invalid_input() -> None:
    numa = tuple(NumaNode(Resources.of({CPU_CORES: 8})) for _ in range(4))
    node = Node("h", Resources.of({CPU_CORES: 32}), numa=numa)
    vm = Item("v", Resources.of({CPU_CORES: 2}), kind="vm")
    snap = Snapshot((node,), (vm,), {"v": Assignment("h", (0,))})
    result = create(names.GNN_RESCHEDULE).solve(VmRescheduling(snap, 1), Budget(5))
    assert result.status is Status.INVALID_INPUT
    assert "NUMA" in result.message


def test_portfolio_warm_starts_the_exact_solver_from_the_learned_plan(monkeypatch) -> None:
    from optsched.portfolio import Portfolio
    from optsched.solvers.reschedule import exact

    given: list[object] = []
    real = exact.exact_plan

    def spy(problem, budget, args, solver, warm=None):
        given.append(warm)
        return real(problem, budget, args, solver, warm)

    monkeypatch.setattr(exact, "exact_plan", spy)
    problem = VmRescheduling(load_shipped("medium"), migration_limit=5)
    # without pricing: a plan the learned solver proves optimal ends the chain
    learned_config = {"k": 2, "price": False}
    config = {names.CPSAT_RESCHEDULE: {"num_workers": 1}, names.GNN_RESCHEDULE: learned_config}
    portfolio = Portfolio(solver_config=config)
    chain = portfolio.plan(problem, Budget(4))
    assert chain[:2] == [names.GNN_RESCHEDULE, names.CPSAT_RESCHEDULE]
    learned_solver = create(names.GNN_RESCHEDULE, **learned_config)
    learned_solver.warm_up()  # loading torch is not part of the comparison
    learned = learned_solver.solve(problem, Budget(4))
    assert learned.plan.moves
    result = portfolio.run(problem, Budget(4))
    assert given and given[0] == learned.plan  # the policy is seeded: the same plan
    assert validate(problem, result).ok
    assert result.objective <= learned.objective + 1e-12


def test_a_proven_learned_plan_ends_the_portfolios_chain(monkeypatch) -> None:
    from optsched.portfolio import Portfolio
    from optsched.solvers.reschedule import exact

    ran: list[object] = []
    monkeypatch.setattr(exact, "exact_plan", lambda *a, **k: ran.append(a))
    problem = VmRescheduling(load_shipped("medium"), migration_limit=5)
    config = {names.CPSAT_RESCHEDULE: {"num_workers": 1}, names.GNN_RESCHEDULE: {"k": 2}}
    result = Portfolio(solver_config=config).run(problem, Budget(4))
    assert result.status is Status.OPTIMAL and result.solver == names.GNN_RESCHEDULE
    assert result.best_bound == pytest.approx(result.objective)
    assert validate(problem, result).ok
    assert not ran
