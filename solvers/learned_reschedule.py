"""``gnn-reschedule``: the learned VM rescheduler (VMR2L-style two-stage GNN
policy with risk-seeking sampling, :mod:`optsched.gnn`).

It samples ``K`` trajectories as one batched graph (:mod:`optsched.gnn.
inference`). Rather than only keeping the best of them, it recombines them
host by host (:func:`.reschedule.config_plan.recombine`: an integer master
over the hosts' configurations in the trajectories, with the local search's
plan among them when its share of the budget is positive) and answers the
best of the policy's best trajectory, the local search's plan and the
recombination (``plan_source`` in the stats). The trajectories differ
where the policy is unsure, and each is often right on some hosts and wrong
on others; on held-out medium instances at MNL 25 the recombination reached
0.95-0.99 of the optimal reduction where the best trajectory reached
0.93-0.95 (``optsched bench learned``). Where the state the recombination
uses does not model the problem (taints, node selectors or disruption
budgets that bind: :mod:`.reschedule.scope`) the policy's plan is answered
alone.

Then pricing (``Args.price``), with its share of the budget and whatever
the earlier stages left: the configuration bound of
:mod:`.reschedule.config_bound` (column generation, 0.1-0.3 s on medium),
stopped as soon as it proves the best candidate optimal; where it does not,
the integer master over the priced configurations together with the
candidates' host configurations (:func:`.config_plan.configuration_plan`)
is one more candidate (``priced``). The answer carries the bound
(``best_bound``) and is ``OPTIMAL`` where it meets it. On the shipped
medium snapshot, where the fine-tuned policy is weakest (0.955 / 0.943 of
the optimal reduction at MNL 25 / 50 without pricing), the answer at 1 s is
now the proven optimum at MNL 10 / 25 / 50 (0.41-0.86 s, the priced plan at
25 and 50); on held-out generated medium instances pricing mostly proves
the policy's plans (see :data:`LOCAL_SEARCH_SHARE` for the shares).

``K`` is fixed by ``Args.k`` or, when unset, the largest power of two up to
:data:`K_AUTO_MAX` whose predicted time fits the budget under
:data:`STEP_COST` (``n_steps * (a + b * K * size)`` seconds) and
:data:`RECOMBINE_COST`, after the local search's and pricing's shares; the
rollout also stops at the budget's deadline, so a plan always comes back in
time (shorter if need be). Every plan passes the validator before it is returned; one that
does not is reported as no solution, never served.

Problems outside what the policy was trained for (more than two NUMA nodes
per host, required affinity terms) come back as ``INVALID_INPUT`` with the
reason, and the portfolio moves on to the next solver.

Two checkpoints are shipped. The first was trained on generated instances
at VMR2L's initial fragment rate (0.556); the second was fine-tuned from it
with PPO on a mix of initial rates from 0.556 to 0.97 (production snapshots
are this fragmented: the shipped medium one has 0.977). Measured at K = 8
(held-out seeds), the fine-tuned one is better on most instances from FR0
0.75 up (10 of 18 cells at 0.75 and 0.95 better, none worse; the shipped
snapshot at MNL 10/25/50 0.8508/0.7590/0.6442 instead of
0.8623/0.7704/0.6786) and worse on 3 of 18 cells at 0.556, so without an
explicit ``checkpoint`` the solver takes the fine-tuned one when the
instance's initial fragment rate is at least :data:`FRAGMENTED_FROM`.

torch is imported on the first ``solve``, not when the registry loads.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError, DomainError
from optsched.problems.base import ProblemKind
from optsched.problems.cluster import VmRescheduling
from optsched.registry import register
from optsched.results import Plan, SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.reschedule.config_bound import ConfigBound, applies, config_bound
from optsched.solvers.reschedule.config_plan import MIN_MIP_S, configuration_plan, recombine
from optsched.solvers.reschedule.pairs import improve
from optsched.solvers.reschedule.scope import unmodelled
from optsched.solvers.reschedule.start import replay
from optsched.solvers.reschedule.state import RescheduleState
from optsched.validate import validate

# Seconds per environment step: a + b * K * (VMs + hosts). Measured with
# `optsched bench learned` on the shared 2-core development machine (medium
# snapshot, two torch threads: its cores); the bench reports the measured times again.
STEP_COST = (0.004, 1.2e-6)
# kept at the end of the budget for validating the answer: seconds per VM
# and host (validation measured 0.02-0.04 s on medium, 0.03-0.06 s on
# large: 2,368 and 5,722 VMs and hosts), at least MIN_VALIDATE_S
VALIDATE_S_PER_NODE = 3e-5
MIN_VALIDATE_S = 0.05
# Shares of the budget for the local search whose plan joins the
# recombination and for pricing (the configuration bound, then the integer
# master over the priced configurations and the candidates'), both after the
# rollout; pricing also takes whatever the earlier stages leave. By instance:
# - where the policy plans what it was trained on, the local search 0.1 and
#   pricing what is left (on held-out generated medium instances, 3 MNLs x 10
#   seeds at 1 s, two rounds: 0.986 / 0.994 of the optimal reduction with
#   pricing from what is left, 0.987 / 0.986 with a 0.2 share, 0.983 / 0.991
#   without pricing);
# - on fragmented instances (FR0 >= FRAGMENTED_FROM, the fine-tuned
#   checkpoint's), where the policy is weakest, pricing 0.5 and the local
#   search 0.3: the shipped medium snapshot proven optimal at MNL 10 / 25 /
#   50 in 0.41-0.82 s (the priced plan at 25 and 50), where the local search
#   with a 0.5 share reached 0.955 / 0.943;
# - on clusters larger than LARGER_THAN VMs and hosts (the medium snapshot
#   has 2,368, the large one 5,722), the local search 0.5: its plan won every
#   large cell of `optsched bench learned`, and a 0.5 pricing share left it
#   short (large at 1 s, MNL 25 / 50: 0.5832 against 0.5824 / 0.5815).
LOCAL_SEARCH_SHARE = (0.1, 0.3, 0.5)  # as trained, fragmented, larger
PRICE_SHARE = (0.0, 0.5, 0.0)
LARGER_THAN = 4000
# the least time left worth starting pricing with: seconds per VM and host, at
# least MIN_PRICE_S (its set-up, before the first check of its deadline, took
# about 0.1 s on the large snapshot, 5,722 VMs and hosts)
PRICE_S_PER_NODE = 4e-5
MIN_PRICE_S = 0.1
# seconds c + d * K kept from the rollout for replaying the K copies and the
# integer master (measured 0.08 s at K = 8 on medium)
RECOMBINE_COST = (0.04, 0.006)
K_MAX = 64
# the most trajectories chosen from the budget: K = 8 recombined reached the
# optimum on every held-out medium instance at MNL 10 and 50 and 0.99 at 25
# (bench learned); more copies only make each step slower, and a rollout cut
# short by its deadline (host noise) ends every copy early
K_AUTO_MAX = 8
# sampling temperature of the copies (copy 0 is the argmax): recombination
# gains from copies that differ; on held-out medium instances at MNL 25 and
# K = 8 (11 instances x 6 sampling seeds) 1.5 gave 0.981 of the optimal
# reduction against 0.974 at 1.0, 0.968 at 2.0; unchanged at MNL 10 and 50
TEMPERATURE = 1.5
# initial fragment rate from which the fine-tuned shipped checkpoint plans
# (between the two training distributions; measured, see the module docstring)
FRAGMENTED_FROM = 0.7

_POLICIES: dict[str, Any] = {}


@dataclass(frozen=True)
class Args:
    checkpoint: str | None = None  # None: the shipped weights for the instance
    k: int | None = None  # trajectories; None: from the budget
    top_frac: float | None = None  # sample only the top share of allowed actions
    temperature: float = TEMPERATURE
    seed: int = 0
    threads: int | None = None  # torch threads; None: the machine's cores
    # the trained policy often stops early; searching on to the migration limit
    # and keeping the best prefix finds better plans (measured by bench learned)
    allow_stop: bool = False
    # combine the trajectories host by host (config_plan.recombine) instead of
    # only keeping the best one; the local search's plan joins them when its
    # share of the budget is positive
    recombine: bool = True
    local_search_share: float | None = None  # None: by instance (LOCAL_SEARCH_SHARE...)
    # after the recombination, the configuration bound (a proof where it meets
    # the best plan) and the integer master over the priced configurations
    # and the candidates' (where the configurations describe the problem)
    price: bool = True
    price_share: float | None = None  # None: by instance (PRICE_SHARE...)

    def __post_init__(self) -> None:
        if self.k is not None and not 1 <= self.k <= K_MAX:
            raise ConfigError(f"{names.GNN_RESCHEDULE}: k must be in [1, {K_MAX}], got {self.k}")
        if self.top_frac is not None and not 0.0 < self.top_frac <= 1.0:
            raise ConfigError(f"{names.GNN_RESCHEDULE}: top_frac must be in (0, 1]")
        if self.local_search_share is not None and not 0.0 <= self.local_search_share < 1.0:
            raise ConfigError(f"{names.GNN_RESCHEDULE}: local_search_share must be in [0, 1)")
        if self.price_share is not None and not 0.0 <= self.price_share < 1.0:
            raise ConfigError(f"{names.GNN_RESCHEDULE}: price_share must be in [0, 1)")
        if (self.local_search_share or 0.0) + (self.price_share or 0.0) >= 1.0:
            raise ConfigError(
                f"{names.GNN_RESCHEDULE}: local_search_share + price_share must be below 1"
            )
        if not self.temperature > 0:
            raise ConfigError(f"{names.GNN_RESCHEDULE}: temperature must be positive")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"{names.GNN_RESCHEDULE}: threads must be at least 1")
        if self.checkpoint is not None and not Path(self.checkpoint).is_file():
            raise ConfigError(f"{names.GNN_RESCHEDULE}: no checkpoint at {self.checkpoint}")


def _policy(path: str | None) -> tuple[Any, dict[str, Any]]:
    """The policy of a checkpoint, loaded once per process."""
    key = path or ""
    if key not in _POLICIES:
        from optsched.gnn import checkpoint

        _POLICIES[key] = checkpoint.load(path)
    return _POLICIES[key]  # type: ignore[no-any-return]


def _candidates(
    origin: RescheduleState,
    env: Any,
    ro: Any,
    searched: RescheduleState | None,
    deadline: float,
) -> list[tuple[RescheduleState, str]]:
    """The policy's trajectories, the local search's plan (``searched``) and
    their recombination (:func:`.reschedule.config_plan.recombine`), as
    states reached from ``origin``, with where each came from."""
    from optsched.gnn.inference import copy_plans

    limit = env.limit
    # the copies' moves passed the policy's masks (the answer is validated
    # before it is served), so they are replayed without the state's checks
    copies = (replay(origin, p, limit, check=False) for p in copy_plans(env, ro))
    found = [(s, "policy") for s in copies if s is not None]
    if searched is not None:
        found.append((searched, "local search"))
    combined = recombine(origin, [s for s, _ in found], limit, deadline)
    if combined is not None:
        found.append((combined, "recombined"))
    return found


def _priced(
    origin: RescheduleState,
    found: list[tuple[RescheduleState, str]],
    limit: int,
    deadline: float,
) -> tuple[ConfigBound | None, RescheduleState | None]:
    """The configuration bound (:mod:`.reschedule.config_bound`), stopped at
    ``deadline`` or once it proves the best plan in ``found``, and where it
    does not prove it, the integer master over the priced configurations and
    the host configurations of ``found`` (:func:`.config_plan.
    configuration_plan`, which seeks only a plan better than those of
    ``found``); (None, None) where the bound does not apply."""
    states = [s for s, _ in found]
    best = min((s.frag_sum for s in states), default=None)
    bound = config_bound(origin, limit, deadline - MIN_MIP_S, best)
    if bound is None:
        return None, None
    return bound, configuration_plan(origin, bound, limit, deadline, also=states)


@register(names.GNN_RESCHEDULE, {ProblemKind.VM_RESCHEDULING})
class LearnedReschedule:
    name = names.GNN_RESCHEDULE
    capabilities = Capabilities(
        kind=SolverKind.LEARNED,
        problem_kinds=frozenset({ProblemKind.VM_RESCHEDULING}),
        anytime=False,
        warm_start=False,
        deterministic=True,  # sampling is seeded
    )

    def __init__(self, **config: Any) -> None:
        self.args = Args(**config)

    def warm_up(self) -> None:
        """Import torch and load the checkpoints (about 3 s on a cold process)
        outside any request's budget."""
        for fragment_rate in (0.0, 1.0):  # every checkpoint this solver may use
            _policy(self.checkpoint_for(fragment_rate))

    def checkpoint_for(self, initial_fragment_rate: float) -> str:
        """The checkpoint that plans an instance of this initial fragment rate."""
        if self.args.checkpoint is not None:
            return self.args.checkpoint
        from optsched.gnn import checkpoint

        fragmented = initial_fragment_rate >= FRAGMENTED_FROM
        name = checkpoint.FRAGMENTED_NAME if fragmented else checkpoint.SHIPPED_NAME
        return str(checkpoint.shipped_path(name))

    def _shares(self, initial_fragment_rate: float, size: int) -> tuple[float, float]:
        """The local search's and pricing's shares of the budget (see
        LOCAL_SEARCH_SHARE)."""
        case = 1 if initial_fragment_rate >= FRAGMENTED_FROM else 2 if size > LARGER_THAN else 0
        search, price = LOCAL_SEARCH_SHARE[case], PRICE_SHARE[case]
        if self.args.local_search_share is not None:
            search = self.args.local_search_share
        if self.args.price_share is not None:
            price = self.args.price_share
        return search, price if self.args.price else 0.0

    def solve(self, problem: VmRescheduling, budget: Budget) -> SolveResult:
        started = time.monotonic()
        import torch

        from optsched.gnn.env import RescheduleEnv
        from optsched.gnn.inference import best_plan, choose_k, rollout
        from optsched.gnn.instance import compile_instance

        torch.set_num_threads(self.args.threads or max(1, os.cpu_count() or 1))
        try:
            env = RescheduleEnv(compile_instance(problem))
        except DomainError as exc:
            return SolveResult(Status.INVALID_INPUT, self.name, message=str(exc))
        size = env.inst.n_vms + env.inst.n_hosts
        # planning ends here; the rest of the budget is for validation
        planned = budget.deadline - max(VALIDATE_S_PER_NODE * size, MIN_VALIDATE_S)
        origin = None
        if self.args.recombine and unmodelled(problem) is None:
            origin = RescheduleState.from_problem(problem)
            fr0 = origin.fragment_rate()
        else:
            fr0 = float(env.fragment_rate(env.reset(1))[0])
        path = self.checkpoint_for(fr0)
        policy, meta = _policy(path)
        search_s, price_s, extra = 0.0, 0.0, (0.0, 0.0)
        if origin is not None:  # the local search and pricing come after the rollout
            left, (search, price) = budget.remaining(), self._shares(fr0, size)
            search_s, extra = search * left, RECOMBINE_COST
            if applies(origin):
                price_s = price * left
        k = self.args.k or choose_k(
            planned - time.monotonic() - search_s - price_s,
            max(env.limit, 1),
            size,
            STEP_COST,
            extra,
            K_AUTO_MAX,
        )
        after = extra[0] + extra[1] * k  # recombining K copies
        ro = rollout(
            policy,
            env,
            k,
            seed=self.args.seed,
            top_frac=self.args.top_frac,
            deadline=planned - search_s - price_s - after,
            allow_stop=self.args.allow_stop,
            temperature=self.args.temperature,
        )
        best = best_plan(env, ro)
        if origin is None:
            return self._result(problem, best.plan, started, fr0, k, meta, path, "policy")
        searched = None
        if search_s > 0:  # anytime: what the rollout left
            searched = origin.copy()
            improve(searched, env.limit, planned - price_s - after)
        found = _candidates(origin, env, ro, searched, planned - price_s)
        bound: ConfigBound | None = None
        if self.args.price and planned - time.monotonic() > max(
            MIN_PRICE_S, PRICE_S_PER_NODE * size
        ):
            bound, priced = _priced(origin, found, env.limit, planned)
            if priced is not None:
                found.append((priced, "priced"))
        if not found:
            return self._result(problem, best.plan, started, fr0, k, meta, path, "policy")
        *_, chosen, source = min(
            (s.fragment_rate(), len(s.actions), i, s, source) for i, (s, source) in enumerate(found)
        )
        return self._result(
            problem, chosen.plan(), started, fr0, k, meta, path, source, bound, chosen
        )

    def _result(
        self,
        problem: VmRescheduling,
        plan: Plan,
        started: float,
        fr_before: float,
        k: int,
        meta: dict[str, Any],
        path: str,
        source: str,
        bound: ConfigBound | None = None,
        chosen: RescheduleState | None = None,
    ) -> SolveResult:
        result = SolveResult(Status.FEASIBLE, self.name, plan=plan)
        report = validate(problem, result)
        if not report.ok:
            return SolveResult(
                Status.NO_SOLUTION_IN_TIME,
                self.name,
                wall_time_s=time.monotonic() - started,
                message=f"learned plan failed validation: {report.summary(3)}",
            )
        status, lower = Status.FEASIBLE, None
        if bound is not None and chosen is not None and chosen.free_sum > 0:
            lower = bound.frag / chosen.free_sum  # the configuration bound's T is constant
            if bound.proves(chosen.frag_sum):
                status = Status.OPTIMAL
        return SolveResult(
            status,
            self.name,
            plan=plan,
            objective=report.objective,
            best_bound=lower,
            wall_time_s=time.monotonic() - started,
            stats={
                "fragment_rate_before": fr_before,
                "fragment_rate_after": report.objective,
                "moves": len(plan.moves),
                "trajectories": k,
                "checkpoint": Path(path).name,
                "checkpoint_eval_fragment_rate": meta.get("eval_fragment_rate"),
                "plan_source": source,
                "bound_config": None if bound is None else bound.frag,
                "bound_converged": None if bound is None else bound.converged,
            },
        )
