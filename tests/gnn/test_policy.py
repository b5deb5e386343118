"""The policy's two evaluation paths agree, on graphs of any size."""

from __future__ import annotations

import numpy as np
import torch
from gnn_cases import problems
from hypothesis import given, settings

from optsched.gnn.env import RescheduleEnv
from optsched.gnn.features import Featurizer
from optsched.gnn.inference import best_plan, rollout
from optsched.gnn.instance import compile_instance
from optsched.gnn.policy import (
    PolicyConfig,
    ReschedulePolicy,
    evaluate_actions,
    segment_log_softmax,
)
from optsched.gnn.train import batch


def test_segment_log_softmax_normalizes_each_segment() -> None:
    logits = torch.tensor([0.0, 1.0, 2.0, -1.0, 5.0])
    index = torch.tensor([0, 0, 1, 1, 1])
    p = segment_log_softmax(logits, index, 2).exp()
    assert torch.allclose(torch.zeros(2).index_add_(0, index, p), torch.ones(2))
    assert torch.allclose(p[:2], torch.softmax(logits[:2], 0))


@settings(max_examples=15, deadline=None)
@given(problems())
def test_copies_of_one_problem_pool_by_reshape_as_by_scatter(problem) -> None:
    """The observation of K copies of one problem marks its equal-size
    graphs (``per_graph``) so that pooling is a reshape; the logits are the
    scatter path's."""
    torch.manual_seed(0)
    policy = ReschedulePolicy(PolicyConfig(hidden=8, layers=2))
    env = RescheduleEnv(compile_instance(problem))
    feat = Featurizer(env)
    state = env.reset(3)
    fit = env.class_fit(state)
    obs = feat.observe(state, fit, env.vm_mask(state, fit))
    vm = torch.zeros(3, dtype=torch.long) + torch.arange(3) * env.inst.n_vms
    pair = torch.from_numpy(feat.pair(state, np.zeros(3, dtype=np.int64)).astype(np.float32))
    pair = pair.view(-1, pair.shape[-1])
    with torch.no_grad():
        enc = policy.encode(obs)
        fast = (*policy.vm_logits(enc, obs), policy.dest_logits(enc, obs, vm, pair), enc.graph)
        del obs["vm"].per_graph, obs["numa"].per_graph
        enc = policy.encode(obs)
        slow = (*policy.vm_logits(enc, obs), policy.dest_logits(enc, obs, vm, pair), enc.graph)
    for x, y in zip(fast, slow, strict=True):
        assert torch.allclose(x, y, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(problems())
def test_recorded_log_probs_match_batched_evaluation(problem) -> None:
    """The log-probabilities a rollout records (dense sampling over ``B``
    copies) equal those the training batch recomputes (segment softmax over
    concatenated graphs), so PPO's ratio starts at 1."""
    torch.manual_seed(0)
    policy = ReschedulePolicy(PolicyConfig(hidden=8, layers=1))
    env = RescheduleEnv(compile_instance(problem))
    ro = rollout(policy, env, 3, seed=1, argmax_first=False, record=True)
    if not ro.steps:
        return
    mb = batch(ro.steps)
    with torch.no_grad():
        ev = evaluate_actions(
            policy,
            mb["data"],
            mb["vm_mask"],
            mb["stop"],
            mb["vm"],
            mb["dest_mask"],
            mb["pair"],
            mb["dest"],
        )
    live = mb["live"]
    assert torch.allclose(ev.log_prob[live], mb["log_prob"][live], atol=1e-4)
    assert torch.allclose(ev.value, mb["value"], atol=1e-5)
    plan = best_plan(env, ro)
    assert plan.fragment_rate <= plan.initial_fragment_rate
