"""Behaviour cloning data: a teacher solver's plans replayed in the environment.

The teacher (by default the exact CP-SAT rescheduler) solves a generated
instance; its moves, in plan order, are replayed one at a time in a
single-copy environment, recording the observation, masks and the two-stage
action of each step, then a stop step when the plan uses fewer moves than the
migration limit. A teacher move the environment's masks do not allow (a rule
the environment is stricter on) ends the demonstration there, so every
recorded action is one the policy could take. Each step also carries the
teacher's return-to-go, on which BC fits the value head (so that PPO starts
with a value function that has seen good plans).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from optsched.budget import Budget
from optsched.gnn.env import RescheduleEnv
from optsched.gnn.features import Featurizer
from optsched.gnn.inference import Step
from optsched.gnn.instance import NUMA_SLOTS, compile_instance
from optsched.problems import VmRescheduling
from optsched.registry import create
from optsched.results import ActionKind
from optsched.validate import validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Demo:
    steps: list[Step]
    teacher_fragment_rate: float
    moves_kept: int
    moves_total: int


def teacher_plan(problem: VmRescheduling, teacher: str, budget_s: float) -> list[tuple[str, int]]:
    """``(vm id, destination unit)`` of each move of the teacher's validated plan."""
    result = create(teacher).solve(problem, Budget(budget_s))
    if result.plan is None or not result.status.has_solution:
        return []
    report = validate(problem, result)
    if not report.ok:
        log.warning("teacher %s returned an invalid plan: %s", teacher, report.summary(2))
        return []
    hosts = problem.snapshot.node_index
    out = []
    for a in result.plan.actions:
        if a.kind is not ActionKind.MOVE or a.target is None:
            continue
        slot = min(a.target.numa) if a.target.numa else 0
        out.append((a.item_id, hosts[a.target.node] * NUMA_SLOTS + slot))
    return out


def demonstrate(problem: VmRescheduling, moves: list[tuple[str, int]]) -> Demo:
    """Replay ``moves`` (from :func:`teacher_plan`) and record each step."""
    inst = compile_instance(problem)
    env = RescheduleEnv(inst)
    feat = Featurizer(env)
    index = {vid: i for i, vid in enumerate(inst.vm_ids)}
    state = env.reset(1)
    steps: list[Step] = []
    kept = 0
    for vid, unit in [*moves, ("", -1)]:
        if state.done[0]:
            break
        fit = env.class_fit(state)
        vm_mask = env.vm_mask(state, fit)
        vm = np.array([index[vid] if unit >= 0 else inst.n_vms])
        if not vm_mask[0, vm[0]]:
            break
        dmask = env.dest_mask(state, vm, fit)
        if unit >= 0 and not dmask[0, unit]:
            break
        obs = feat.observe(state, fit, vm_mask)
        pair = torch.from_numpy(feat.pair(state, vm).astype(np.float32))
        reward = env.step(state, vm, np.array([max(unit, 0)]))
        kept += int(unit >= 0)
        steps.append(
            Step(
                obs,
                torch.from_numpy(vm_mask),
                torch.from_numpy(vm),
                torch.from_numpy(dmask),
                pair,
                torch.tensor([max(unit, 0)]),
                torch.zeros(1),
                torch.zeros(1),
                torch.from_numpy(reward.astype(np.float32)),
                torch.ones(1, dtype=torch.bool),
            )
        )
    to_go = torch.zeros(1)
    for step in reversed(steps):  # the teacher's return-to-go, a target for the value head
        to_go = to_go + step.reward
        step.returns = to_go.clone()
    return Demo(steps, float(env.fragment_rate(state)[0]), kept, len(moves))
