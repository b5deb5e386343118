"""Risk-seeking inference: ``K`` trajectories sampled side by side, best kept.

All ``K`` copies of the problem are stepped together: one batched graph, one
forward pass per step (VMR2L's risk-seeking evaluation, with the trajectories
batched rather than run one after another). Copy 0 follows the argmax action,
so the best of ``K`` is never worse than the deterministic policy. Sampling may
be restricted to the top ``top_frac`` share of the allowed actions of each
stage (by logit). Each kept plan is cut to its best prefix (a prefix of an
executable sequence is executable), and an empty plan is returned when no
prefix lowers the fragment rate.

:func:`rollout` also records what PPO needs (:class:`Step`), so training and
serving run the same code.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from optsched.gnn.env import RescheduleEnv, State
from optsched.gnn.features import Featurizer
from optsched.gnn.policy import MASKED, ReschedulePolicy
from optsched.results import Plan

K_CHOICES = (1, 2, 4, 8, 16, 32, 64)


@dataclass
class Step:
    """One recorded step of ``B`` copies (shapes in brackets)."""

    obs: HeteroData
    vm_mask: Tensor  # [B, M + 1] bool
    vm: Tensor  # [B] chosen VM, M for stop
    dest_mask: Tensor  # [B, U] bool
    pair: Tensor  # [B, U, P]
    dest: Tensor  # [B] chosen unit (0 on stop)
    log_prob: Tensor  # [B]
    value: Tensor  # [B]
    reward: Tensor  # [B]
    live: Tensor  # [B] bool: the copy acted at this step
    advantage: Tensor | None = None  # [B], set by training
    returns: Tensor | None = None  # [B], set by training


@dataclass
class Rollout:
    state: State
    fr: np.ndarray  # [T + 1, B] fragment rate after each step
    steps: list[Step] = field(default_factory=list)


def _restrict(logits: Tensor, mask: Tensor, top_frac: float | None) -> Tensor:
    """Mask keeping, per row, the top ``ceil(top_frac * allowed)`` actions."""
    if top_frac is None or top_frac >= 1.0:
        return mask
    masked = logits.masked_fill(~mask, -math.inf)
    ranked = masked.sort(dim=1, descending=True).values
    keep = (mask.sum(1).float() * top_frac).ceil().clamp(min=1).long() - 1
    return mask & (masked >= ranked.gather(1, keep[:, None]))


def _choose(
    logits: Tensor,
    mask: Tensor,
    argmax_first: bool,
    top_frac: float | None,
    gen,
    temperature: float = 1.0,
):
    """Sample one action per row of ``[B, A]`` at ``temperature`` (row 0
    argmax if asked); return the actions and their log-probabilities under
    the full mask at temperature 1 (the policy's own)."""
    full = logits.masked_fill(~mask, MASKED)
    logp = torch.log_softmax(full, dim=1)
    scaled = logits / temperature if temperature != 1.0 else logits
    sample = scaled.masked_fill(~_restrict(logits, mask, top_frac), MASKED)
    probs = torch.softmax(sample, dim=1)
    act = torch.multinomial(probs, 1, generator=gen).squeeze(1)
    if argmax_first:
        act[0] = sample[0].argmax()
    return act, logp.gather(1, act[:, None]).squeeze(1)


@torch.no_grad()
def rollout(
    policy: ReschedulePolicy,
    env: RescheduleEnv,
    n_copies: int,
    *,
    seed: int = 0,
    argmax_first: bool = True,
    top_frac: float | None = None,
    record: bool = False,
    deadline: float | None = None,
    allow_stop: bool = True,
    temperature: float = 1.0,
) -> Rollout:
    """Run ``n_copies`` trajectories to the end (or until ``deadline``, a
    ``time.monotonic()`` value, after which every copy stops). Without
    ``allow_stop`` a copy stops only when no VM can move (the best prefix is
    kept anyway, so this trades time for a longer search). A ``temperature``
    above 1 spreads the sampled copies (training samples at 1)."""
    gen = torch.Generator().manual_seed(seed)
    feat = Featurizer(env)
    state = env.reset(n_copies)
    out = Rollout(state, env.fragment_rate(state)[None])
    m = env.inst.n_vms
    if m == 0:  # nothing that could move: the empty plan
        state.done[:] = True
    frs = [out.fr[0]]
    while not state.done.all():
        if deadline is not None and time.monotonic() > deadline:
            state.done[:] = True
            break
        fit = env.class_fit(state)
        vm_mask = env.vm_mask(state, fit)
        if not allow_stop:
            vm_mask[:, -1] = ~vm_mask[:, :-1].any(axis=1)
        obs = feat.observe(state, fit, vm_mask)
        enc = policy.encode(obs)
        node, stop = policy.vm_logits(enc, obs)
        logits = torch.cat([node.view(n_copies, m), stop[:, None]], dim=1)
        vm_t = torch.from_numpy(vm_mask)
        vm, vm_lp = _choose(logits, vm_t, argmax_first, top_frac, gen, temperature)
        vm_np = vm.numpy()
        dmask = torch.from_numpy(env.dest_mask(state, vm_np, fit))
        pair = torch.from_numpy(feat.pair(state, vm_np).astype(np.float32))
        chosen = torch.arange(n_copies) * m + vm.clamp(max=m - 1)
        dl = policy.dest_logits(enc, obs, chosen, pair.view(-1, pair.shape[-1]))
        moving = vm < m
        safe = dmask | ~moving[:, None]  # a stopped copy samples a dummy unit
        dest, dest_lp = _choose(
            dl.view(n_copies, -1), safe, argmax_first, top_frac, gen, temperature
        )
        live = torch.from_numpy(~state.done)
        reward = env.step(state, vm_np, dest.numpy())
        frs.append(env.fragment_rate(state))
        if record:
            out.steps.append(
                Step(
                    obs,
                    vm_t,
                    vm,
                    dmask,
                    pair,
                    dest,
                    vm_lp + dest_lp * moving,
                    policy.value(enc),
                    torch.from_numpy(reward.astype(np.float32)),
                    live,
                )
            )
    out.fr = np.stack(frs)
    return out


@dataclass(frozen=True)
class BestPlan:
    plan: Plan
    fragment_rate: float
    initial_fragment_rate: float
    copy: int
    n_copies: int


def best_plan(env: RescheduleEnv, ro: Rollout) -> BestPlan:
    """The best prefix over all copies (lowest FR, then fewest moves)."""
    fr = ro.fr  # [T + 1, B]
    t, b = np.unravel_index(np.lexsort((np.arange(fr.size), fr.reshape(-1))), fr.shape)
    t_best, b_best = int(t[0]), int(b[0])
    full = env.plan(ro.state, b_best)
    # fr[t] is the state after t steps of copy b; a copy stops moving once done
    plan = Plan(full.actions[:t_best])
    return BestPlan(plan, float(fr[t_best, b_best]), float(fr[0, 0]), b_best, int(fr.shape[1]))


def copy_plans(env: RescheduleEnv, ro: Rollout) -> list[Plan]:
    """Each copy's best prefix (lowest FR, then fewest moves), copy by copy:
    what recombining the trajectories (:func:`optsched.solvers.reschedule.
    config_plan.recombine`) starts from."""
    plans = []
    for b in range(ro.fr.shape[1]):
        t_best = int(np.argmin(ro.fr[:, b]))  # the first of equal minima
        plans.append(Plan(env.plan(ro.state, b).actions[:t_best]))
    return plans


def choose_k(
    budget_s: float,
    n_steps: int,
    size: int,
    cost: tuple[float, float],
    extra: tuple[float, float] = (0.0, 0.0),
    k_max: int = K_CHOICES[-1],
) -> int:
    """Largest ``K`` in :data:`K_CHOICES` whose predicted time fits
    ``budget_s``: ``n_steps * (a + b * K * size)`` with ``cost = (a, b)``,
    plus ``c + d * K`` with ``extra = (c, d)`` for work after the rollout
    that grows with ``K``; at most ``k_max``."""
    a, b = cost
    c, d = extra
    best = K_CHOICES[0]
    for k in K_CHOICES:
        if k <= k_max and n_steps * (a + b * k * size) + c + d * k <= budget_s:
            best = k
    return best
