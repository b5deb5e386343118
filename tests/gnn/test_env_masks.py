"""The environment's masks against the independent validator."""

from __future__ import annotations

import numpy as np
from gnn_cases import problems
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.gnn.env import RescheduleEnv
from optsched.gnn.instance import compile_instance
from optsched.results import Plan, SolveResult, Status
from optsched.validate import validate


def _check(problem, plan: Plan) -> float:
    report = validate(problem, SolveResult(Status.FEASIBLE, "test", plan=plan))
    assert report.ok, report.summary()
    assert report.objective is not None
    return report.objective


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(0, 2**31 - 1))
def test_every_allowed_move_validates(problem, seed: int) -> None:
    """At every step of a random masked walk, each allowed (VM, destination)
    appended to the plan so far passes the validator, and the environment's
    fragment rate equals the validator's."""
    env = RescheduleEnv(compile_instance(problem))
    rng = np.random.default_rng(seed)
    state = env.reset(1)
    while not state.done[0]:
        base = env.plan(state, 0)
        assert env.fragment_rate(state)[0] == _check(problem, base)
        vm_mask = env.vm_mask(state)[0]
        vms = np.nonzero(vm_mask[:-1])[0]
        if vms.size == 0:
            break
        for v in vms:
            for u in np.nonzero(env.dest_mask(state, np.array([v]))[0])[0]:
                probe = env.reset(1)
                for m, _, unit in state.moves[0]:
                    env.step(probe, np.array([m]), np.array([unit]))
                env.step(probe, np.array([v]), np.array([u]))
                _check(problem, env.plan(probe, 0))
        v = int(rng.choice(vms))
        dests = np.nonzero(env.dest_mask(state, np.array([v]))[0])[0]
        assert dests.size, "the VM mask allowed a VM with no destination"
        env.step(state, np.array([v]), np.array([int(rng.choice(dests))]))
    assert env.fragment_rate(state)[0] == _check(problem, env.plan(state, 0))


@settings(max_examples=40, deadline=None)
@given(problems())
def test_masks_agree_across_copies(problem) -> None:
    """Copies in the same state get the same masks (the batched code paths
    treat each copy alike)."""
    env = RescheduleEnv(compile_instance(problem))
    one, many = env.reset(1), env.reset(3)
    assert (env.vm_mask(many) == env.vm_mask(one)[0]).all()
    v = np.argmax(env.vm_mask(one)[0])
    assert (env.dest_mask(many, np.full(3, v)) == env.dest_mask(one, np.array([v]))[0]).all()
