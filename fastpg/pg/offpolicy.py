"""Importance-sampled reuse of a batch collected under theta_old at a new theta (seed 002), without re-simulating."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validate import check_theta
from . import _estimators as est
from .engine import Batch, check_batch


@dataclass(frozen=True)
class ImportanceWeights:
    """Weights of a stored batch's episodes at a new theta.

    ``per_step`` float64[m, T]: per-trajectory weights w_i = prod_t rho_{i,t} repeated over t, or
    per-decision weights prod_{t'<=t} rho_{i,t'}; ``trajectory`` float64[m], the per-trajectory
    weights (self-normalized to mean 1 when asked); ``ess`` = (sum w)^2 / sum w^2, the effective
    number of episodes (m when theta_new == theta_old).
    """

    per_step: np.ndarray
    trajectory: np.ndarray
    ess: float


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
    cumulative = np.cumsum(log_rho, axis=1)
    log_w = cumulative[np.arange(m), batch.lengths - 1]
    trajectory = np.exp(log_w)
    scale = m / trajectory.sum() if self_normalize and trajectory.sum() > 0 else 1.0
    trajectory = trajectory * scale
    per_step = np.exp(cumulative) * scale if per_decision else np.repeat(trajectory[:, None], horizon, axis=1)
    total, total_sq = trajectory.sum(), (trajectory * trajectory).sum()
    ess = float(total * total / total_sq) if total_sq > 0 else 0.0
    return ImportanceWeights(per_step, trajectory, ess)


def reweighted_gradient(batch: Batch, advantages: np.ndarray, theta_new, weights: ImportanceWeights) -> np.ndarray:
    """Gradient at ``theta_new`` from an old batch: 1/m sum_i sum_t w_{i,t} grad log pi_new(a_t|s_t) A_{i,t}.

    ``advantages`` float64[m, T, d] as returned with the batch's gradient estimate. Returns float64[d].
    """
    check_batch(batch)
    theta_new = check_theta(theta_new)
    advantages = np.ascontiguousarray(advantages, dtype=np.float64)
    per_step = np.ascontiguousarray(weights.per_step, dtype=np.float64)
    if theta_new.shape != batch.theta.shape or advantages.shape != batch.features.shape \
            or per_step.shape != batch.left.shape:
        raise ValueError("theta_new must have the batch's d entries, advantages the batch's shape (m, T, d) and "
                         "weights (m, T)")
    grad = np.empty(theta_new.shape[0])
    est.reweighted_gradient_accumulate(theta_new, batch.features, batch.left, batch.lengths, advantages, per_step, grad)
    return grad
