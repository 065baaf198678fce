"""Importance-sampled reuse of a batch collected under theta_old at a new theta (seed 002), without re-simulating.

Two estimators of grad J(theta_new) from a batch drawn under theta_old:

- ``reweighted_gradient`` with per-trajectory weights: 1/m sum_i w_i sum_t s^new_{i,t} A_{i,t}, from the
  advantages the batch's own estimate returned;
- ``offpolicy_gradient`` with either kind of weights. Per decision it weights each reward r_t' by the
  ratio product up to t' (Precup et al.), so a step's reward to go is
  sum_{t'>=t} rho_{0:t'} gamma^... r_t' and its baseline term rho_{0:t} b_t; this is unbiased for
  grad J(theta_new) (tested by enumeration). Weighting the whole reward to go by rho_{0:t} instead,
  which is what ``reweighted_gradient`` would do with per-decision weights, is biased (about 47% of
  grad J on the 7-step test), so ``reweighted_gradient`` refuses per-decision weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validate import check_gamma, check_theta, real_array
from . import _estimators as est
from .engine import Batch, advantage_terms, check_batch, check_estimator
from .options import psi_code


@dataclass(frozen=True)
class ImportanceWeights:
    """Weights of a stored batch's episodes at a new theta.

    ``per_step`` float64[m, T]: per-trajectory weights w_i = prod_t rho_{i,t} repeated over t, or
    per-decision weights prod_{t'<=t} rho_{i,t'}; ``trajectory`` float64[m], the per-trajectory
    weights (self-normalized to mean 1 when asked); ``ess`` = (sum w)^2 / sum w^2, the effective
    number of episodes (m when theta_new == theta_old); ``per_decision`` which kind ``per_step`` holds.
    """

    per_step: np.ndarray
    trajectory: np.ndarray
    ess: float
    per_decision: bool = False


def importance_weights(batch: Batch, theta_new, *, per_decision: bool = False,
                       self_normalize: bool = False) -> ImportanceWeights:
    """rho_{i,t} = pi_new(a_t|s_t) / pi_old(a_t|s_t) from the stored logits, combined per trajectory or decision.

    Products are formed as exp(cumulative sum of log ratios). Self-normalization rescales the
    trajectory weights (and the per-step weights with them) so that they average 1.
    """
    check_batch(batch)
    theta_new = check_theta(theta_new)
    if theta_new.shape != batch.theta.shape:
        raise ValueError(f"theta_new has {theta_new.shape[0]} entries, the batch's theta {batch.theta.shape[0]}")
    m, horizon = batch.left.shape
    log_rho = np.zeros((m, horizon))
    est.log_ratio_fill(theta_new, batch.features, batch.left, batch.logits, batch.lengths, log_rho)
    with np.errstate(all="ignore"):  # an absurd theta_new gives infinite or nan weights and ESS, not warnings
        cumulative = np.cumsum(log_rho, axis=1)
        log_w = cumulative[np.arange(m), batch.lengths - 1]
        trajectory = np.exp(log_w)
        scale = m / trajectory.sum() if self_normalize and trajectory.sum() > 0 else 1.0
        trajectory = trajectory * scale
        per_step = np.exp(cumulative) * scale if per_decision else np.repeat(trajectory[:, None], horizon, axis=1)
        total, total_sq = trajectory.sum(), (trajectory * trajectory).sum()
        ess = float(total * total / total_sq) if total_sq > 0 else 0.0
    return ImportanceWeights(per_step, trajectory, ess, bool(per_decision))


def reweighted_gradient(batch: Batch, advantages: np.ndarray, theta_new, weights: ImportanceWeights) -> np.ndarray:
    """Gradient at ``theta_new`` from an old batch: 1/m sum_i sum_t w_{i,t} grad log pi_new(a_t|s_t) A_{i,t}.

    ``advantages`` float64[m, T, d] as returned with the batch's gradient estimate; ``weights``
    per-trajectory (per-decision weights on whole advantages are biased: use ``offpolicy_gradient``).
    Returns float64[d].
    """
    check_batch(batch)
    if weights.per_decision:
        raise ValueError("per-decision weights must weight each reward, not the advantage: use offpolicy_gradient")
    theta_new = check_theta(theta_new)
    advantages = real_array("advantages", advantages)
    per_step = real_array("weights.per_step", weights.per_step)
    if theta_new.shape != batch.theta.shape or advantages.shape != batch.features.shape \
            or per_step.shape != batch.left.shape:
        raise ValueError("theta_new must have the batch's d entries, advantages the batch's shape (m, T, d) and "
                         "weights (m, T)")
    grad = np.empty(theta_new.shape[0])
    est.reweighted_gradient_accumulate(theta_new, batch.features, batch.left, batch.lengths, advantages, per_step, grad)
    return grad


def offpolicy_gradient(batch: Batch, theta_new, weights: ImportanceWeights, *, psi: str = "reward_to_go",
                       gamma: float = 1.0, discount: str = "from_start", baseline: str = "none",
                       normalize: bool | str = False) -> np.ndarray:
    """Gradient at ``theta_new`` from an old batch, the estimator options being those of ``engine.gradient``.

    1/m sum_i sum_t s^new_{i,t,k} c_k (sum_t' W_{i,t,t'} gamma^... r_{i,t'} - w_{i,t} (b_{t,k} + mu_k)),
    where the baseline b (b_{i,t,k} for a leave-one-out one) and the normalization (mu_k, c_k = 1/std,
    or mu_ik, c_ik per episode) are those the batch's own estimate
    used (computed from the batch under theta_old, so at theta_new = theta_old with unit weights
    this is that estimate), w_{i,t} = ``weights.per_step[i, t]`` and W_{i,t,t'} = w_{i,max(t,t')}:
    per decision, each reward is weighted by the ratios up to its own step (and, for a total
    return, at least up to the score's step t); per trajectory, W = w = w_i. Returns float64[d].
    """
    check_batch(batch)
    theta_new = check_theta(theta_new)
    code = psi_code(psi, discount)
    gamma = check_gamma(gamma)
    per_step = real_array("weights.per_step", weights.per_step)
    m, horizon, d = batch.features.shape
    kind, mode = check_estimator(baseline, normalize, m)
    if theta_new.shape != batch.theta.shape or per_step.shape != (m, horizon):
        raise ValueError("theta_new must have the batch's d entries and weights the batch's shape (m, T)")
    psi_values, b, shift, scale = advantage_terms(batch, code, gamma, kind, mode)
    est.standardization_fill(batch.lengths, psi_values, b, mode, shift, scale)
    weighted = np.zeros((m, horizon))
    est.weighted_psi_fill(batch.rewards, batch.lengths, per_step, code, gamma, weighted)
    grad = np.empty(d)
    est.offpolicy_gradient_accumulate(theta_new, batch.features, batch.left, batch.lengths, weighted, per_step, b,
                                      shift, scale, grad)
    return grad
