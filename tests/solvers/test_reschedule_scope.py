"""Rules the state-based rescheduling solvers do not model (taints, node
selectors, disruption budgets) give INVALID_INPUT with the reason, never a
plan that fails validation; the learned solver models them and answers."""

from __future__ import annotations

import pytest
from gnn_cases import problems
from hypothesis import given, settings

from optsched import names
from optsched.budget import Budget
from optsched.model import CPU_CORES, Assignment, Item, Node, Resources, Snapshot
from optsched.model.labels import Taint, Toleration
from optsched.portfolio import Portfolio
from optsched.problems import VmRescheduling
from optsched.registry import create
from optsched.results import Status
from optsched.solvers.reschedule.scope import unmodelled
from optsched.validate import validate


def _snapshot(
    *,
    taint: bool = False,
    tolerate: bool = False,
    selector: bool = False,
    budget: int | None = None,
) -> Snapshot:
    nodes = (
        Node("h0", Resources.of({CPU_CORES: 16}), labels={"disk": "ssd"}),
        Node("h1", Resources.of({CPU_CORES: 16}), taints=(Taint("gpu", "yes"),) if taint else ()),
    )
    items = tuple(
        Item(
            f"v{j}",
            Resources.of({CPU_CORES: 2}),
            kind="vm",
            owner="o",
            tolerations=(Toleration("gpu", "Equal", "yes"),) if tolerate else (),
            node_selector={"disk": "ssd"} if selector and j == 0 else {},
        )
        for j in range(3)
    )
    budgets = {} if budget is None else {"o": budget}
    assignments = {it.item_id: Assignment("h0") for it in items}
    return Snapshot(nodes, items, assignments, disruption_budgets=budgets)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"taint": True}, "items[v0]"),
        ({"selector": True}, "items[v0]"),
        ({"budget": 1}, "disruption_budgets[o]"),
    ],
)
def test_a_binding_rule_is_named(kw, field) -> None:
    why = unmodelled(VmRescheduling(_snapshot(**kw), migration_limit=3))
    assert why is not None and why.startswith(field)


@pytest.mark.parametrize(
    "kw", [{}, {"taint": True, "tolerate": True}, {"budget": 3}, {"budget": 2, "taint": False}]
)
def test_rules_that_cannot_bind_are_modelled(kw) -> None:
    # a tolerated taint bars nothing; a budget of 2 cannot bind at a limit of 2
    limit = 2 if kw.get("budget") == 2 else 3
    assert unmodelled(VmRescheduling(_snapshot(**kw), migration_limit=limit)) is None


@settings(max_examples=40, deadline=None)
@given(problems())
def test_state_solvers_answer_validly_or_say_why(problem) -> None:
    for name in (names.GREEDY_RESCHEDULE, names.CPSAT_RESCHEDULE):
        config = {"num_workers": 1, "random_seed": 0} if name == names.CPSAT_RESCHEDULE else {}
        result = create(name, **config).solve(problem, Budget(5))
        if unmodelled(problem) is not None:
            assert result.status is Status.INVALID_INPUT and result.message
            continue
        assert result.status.has_solution, result.message
        report = validate(problem, result)
        assert report.ok, report.summary()


def test_the_portfolio_keeps_the_learned_plan_where_the_exact_solver_cannot_model() -> None:
    problem = VmRescheduling(_snapshot(taint=True), migration_limit=2)
    chain = [names.GNN_RESCHEDULE, names.CPSAT_RESCHEDULE]
    portfolio = Portfolio()
    portfolio.plan = lambda *_: chain  # type: ignore[method-assign]
    result = portfolio.run(problem, Budget(10))
    assert result.status.has_solution, result.message
    assert result.solver == names.GNN_RESCHEDULE
    assert validate(problem, result).ok
