"""Seed 002's KL-penalized update, with dual ascent on the multiplier λ (the penalty form of the KL constraint).

On a batch collected under θ_old, with advantages Â_t (the estimator's, averaged over parameters
as ``natural.surrogate`` averages them), one update maximizes

    L(θ) = S(θ) - λ (KL(θ) - ε),   S(θ) = 1/m Σ_i Σ_t ρ_t(θ) Â_t,   ρ_t = π_θ(a_t|s_t) / π_old(a_t|s_t),
    KL(θ) = the exact mean over the batch's states of KL(π_old(.|s) || π_θ(.|s))   (``natural.mean_kl``)

by ``steps`` proximal Newton steps θ += (λ ∇²KL(θ) + I/η)^-1 ∇L(θ), then sets
λ ← max(0, λ + α (KL(θ_new) - ε)) for the next update. The gradient is exact:
∇S = 1/m Σ ρ_t (1[left] - π_θ(left|s_t)) f_t Â_t and ∇KL = mean_s (π_θ(left|s) - π_old(left|s)) f_s;
∇²KL(θ) = mean_s p(1-p) f f^T is the per-state Fisher matrix at θ, positive semi-definite (one Numba
kernel, ``_penalty``, runs the steps), so each step is an ascent direction of L: with λ = 0 it is
gradient ascent at rate η, for large λ the natural-gradient step F^-1 ∇L / λ. The steps are not
line-searched.

What it optimizes: ∇L(θ_old) = 1/m Σ_i Σ_t s_t Â_t is the batch's own gradient estimate (exactly, when
the advantages are the same for every parameter), so E[∇L(θ_old)] is that estimator's expectation
(∇J for reward-to-go without a baseline); the step itself maximizes a sample surrogate and is no
unbiased estimate of anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..limits import MAX_INNER_STEPS
from ..validate import check_int, check_nonnegative, check_theta
from ._penalty import old_policy_fill, penalty_ascent, penalty_terms_fill
from .engine import Batch, check_batch
from .natural import mean_kl, surrogate


@dataclass(frozen=True)
class PenaltyStep:
    """One KL-penalized update: the new ``theta`` float64[d]; ``kl``, the exact mean KL(π_old || π_new) over
    the batch's states (nats); ``surrogate`` S(θ_new); ``lam``, the multiplier for the next update."""

    theta: np.ndarray
    kl: float
    surrogate: float
    lam: float


@dataclass(frozen=True)
class Penalized:
    """L(θ) = S(θ) - λ (KL(θ) - ε) at one θ: its ``value``, exact ``grad`` float64[d], ``kl``, ``surrogate``
    and ``kl_hessian`` ∇²KL(θ) float64[d, d]."""

    value: float
    grad: np.ndarray
    kl: float
    surrogate: float
    kl_hessian: np.ndarray


class _Problem:
    """A validated batch with its advantages averaged over parameters, float64[m, T], and its steps."""

    def __init__(self, batch: Batch, advantages) -> None:
        check_batch(batch)
        self.batch = batch
        m, horizon, d = batch.features.shape
        advantages = np.asarray(advantages)
        if advantages.dtype != np.float64 or advantages.shape not in ((m, horizon), (m, horizon, d)):
            raise ValueError(f"advantages must be float64 of shape {(m, horizon)} or {(m, horizon, d)}, "
                             f"got {advantages.dtype} {advantages.shape}")
        mask = np.arange(horizon) < batch.lengths[:, None]
        if not mask.any():
            raise ValueError("the batch has no steps")
        self.mean = np.ascontiguousarray(advantages.mean(axis=2) if advantages.ndim == 3 else advantages)
        self.advantages = self.mean[mask]
        if not np.isfinite(self.advantages).all():
            raise ValueError("advantages must be finite on the batch's steps")
        self.features, self.left = batch.features[mask], batch.left[mask]
        self.log_pi_old, self.p_old = np.zeros((m, horizon)), np.zeros((m, horizon))
        old_policy_fill(batch.left, batch.logits, batch.lengths, self.log_pi_old, self.p_old)

    def terms_args(self) -> tuple:
        """The batch arguments of the ``_penalty`` kernels, in their order."""
        batch = self.batch
        return batch.features, batch.left, batch.lengths, self.log_pi_old, self.p_old, self.mean

    def values(self, theta: np.ndarray) -> tuple[float, float]:
        """KL(θ) and S(θ)."""
        m = self.batch.features.shape[0]
        return (mean_kl(self.features, self.batch.theta, theta),
                surrogate(self.features, self.left, self.advantages, self.batch.theta, theta, m))


def penalized_objective(batch: Batch, advantages, theta, lam: float, target: float) -> Penalized:
    """L(θ) = S(θ) - λ (KL(θ) - ε) and its exact gradient on ``batch`` (collected under θ_old = ``batch.theta``).

    advantages : float64[m, T, d] (as ``GradientEstimate.advantages``; averaged over d) or float64[m, T].
    """
    theta = check_theta(theta)
    if theta.shape != batch.theta.shape:
        raise ValueError(f"theta has {theta.shape[0]} entries, the batch's theta {batch.theta.shape[0]}")
    lam, target = check_nonnegative("lam", lam), check_nonnegative("target", target, positive=True)
    problem, d = _Problem(batch, advantages), theta.shape[0]
    grad, hessian = np.empty(d), np.empty((d, d))
    penalty_terms_fill(theta, *problem.terms_args(), lam, grad, hessian)
    kl, value = problem.values(theta)
    return Penalized(value - lam * (kl - target), grad, kl, value, hessian)


def dual_update(lam: float, kl: float, target: float, dual_step: float) -> float:
    """λ ← max(0, λ + α (KL - ε)): raised while the KL exceeds its target, lowered (not below 0) otherwise."""
    return max(0.0, lam + dual_step * (kl - target))


def kl_penalty_step(batch: Batch, advantages, lam: float, *, target: float, dual_step: float, steps: int,
                    lr: float) -> PenaltyStep:
    """One update of θ_old = ``batch.theta``: ``steps`` proximal Newton steps on L, then the dual step on λ.

    advantages : float64[m, T, d] or [m, T], the batch's Â; lam : λ >= 0 of this update; target : ε > 0
    (nats per state); dual_step : α >= 0 (λ per nat); steps : inner steps >= 1; lr : η > 0, the
    proximal step size (θ units per unit of gradient). If the steps diverge, the non-finite θ is
    returned with ``kl`` and ``surrogate`` NaN and λ unchanged (training then stops with ``TrainingError``).
    """
    problem = _Problem(batch, advantages)
    lam, target = check_nonnegative("lam", lam), check_nonnegative("target", target, positive=True)
    dual_step, lr = check_nonnegative("dual_step", dual_step), check_nonnegative("lr", lr, positive=True)
    steps = check_int("steps", steps, 1, MAX_INNER_STEPS)
    theta, d = batch.theta.copy(), batch.theta.shape[0]
    penalty_ascent(*problem.terms_args(), lam, lr, steps, np.empty(d), np.empty((d, d)), theta)
    if not np.isfinite(theta).all():
        return PenaltyStep(theta, math.nan, math.nan, lam)
    kl, value = problem.values(theta)
    return PenaltyStep(theta, kl, value, dual_update(lam, kl, target, dual_step))


class DualState:
    """The multiplier λ as a training run's optimizer state, checkpointed exactly (``state_dict``)."""

    def __init__(self, lam: float):
        self.lam = check_nonnegative("lam", lam)

    def state_dict(self) -> dict:
        return {"lambda": self.lam}

    def load_state_dict(self, state: dict) -> None:
        lam = state["lambda"]
        if isinstance(lam, int) and not isinstance(lam, bool):
            lam = float(lam)
        self.lam = check_nonnegative("lambda", lam)
