"""Natural-gradient steps under a KL trust region for the logistic policy (seed 002).

The Fisher matrix of a logistic policy over d <= 5 features is small and exact: per state it is
p(1-p) f f^T, averaged over the batch's states F. The step solves (F + damping I) x = g, scales
x so that the quadratic KL estimate x^T F x / 2 equals ``delta``, and optionally
backtracks until the exact mean KL on the batch's states is <= delta and the
importance-weighted surrogate improves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..limits import MAX_BACKTRACKS, MAX_EPISODES
from ..validate import check_int, check_nonnegative, check_theta
from .policy import log_sigmoid


def mean_kl(features: np.ndarray, theta_old: np.ndarray, theta_new: np.ndarray) -> float:
    """Mean over states of KL(pi_old(.|s) || pi_new(.|s)) for the logistic policy, in nats.

    features : float64[n, d], the policy's input for each visited state (bias column included).
    """
    z_old, z_new = features @ theta_old, features @ theta_new
    p_old = np.exp(log_sigmoid(z_old))
    kl = p_old * (log_sigmoid(z_old) - log_sigmoid(z_new)) + (1.0 - p_old) * (
        log_sigmoid(-z_old) - log_sigmoid(-z_new)
    )
    return float(np.mean(kl)) if kl.size else 0.0


def surrogate(features: np.ndarray, left: np.ndarray, advantages: np.ndarray, theta_old: np.ndarray,
              theta_new: np.ndarray, episodes: int) -> float:
    """Importance-weighted surrogate 1/m sum_t pi_new(a_t|s_t) / pi_old(a_t|s_t) * A_t.

    left : bool[n], True where the action taken was 0 (push left).
    advantages : float64[n, d] or float64[n], the advantage of each step (per parameter: their mean is used).
    """
    if advantages.ndim == 2:
        advantages = advantages.mean(axis=1)
    sign = np.where(left, 1.0, -1.0)
    log_ratio = log_sigmoid(sign * (features @ theta_new)) - log_sigmoid(sign * (features @ theta_old))
    return float(np.sum(np.exp(log_ratio) * advantages)) / episodes


@dataclass(frozen=True)
class NaturalStep:
    """A trust-region step: ``delta_theta``, the exact mean KL it causes, and the line-search halvings."""

    delta_theta: np.ndarray
    kl: float
    backtracks: int


def natural_step(grad: np.ndarray, fisher: np.ndarray, delta: float, damping: float,
                 features: np.ndarray, left: np.ndarray, advantages: np.ndarray, theta: np.ndarray,
                 episodes: int, line_search: bool = True, max_backtracks: int = 10) -> NaturalStep:
    """The natural-gradient ascent step of size KL ~= ``delta`` from ``theta``.

    grad : float64[d] policy gradient; fisher : float64[d, d], the batch Fisher matrix
    1/m sum_i sum_t p(1-p) f f^T (per trajectory); it is divided by the mean episode length so
    that x^T F x / 2 approximates the mean KL per state, which ``delta`` bounds.
    features : float64[n, d], left : bool[n], advantages : float64[n, d], the batch's n steps.
    Returns a zero step if the gradient is zero or the line search finds no acceptable step.
    """
    grad, fisher, features, left, advantages, theta = _checked(grad, fisher, features, left, advantages, theta)
    delta, damping = check_nonnegative("delta", delta, positive=True), check_nonnegative("damping", damping)
    episodes = check_int("episodes", episodes, 1, MAX_EPISODES)
    max_backtracks = check_int("max_backtracks", max_backtracks, 0, MAX_BACKTRACKS)
    with np.errstate(all="ignore"):  # extreme (finite) inputs give a non-finite KL estimate: a zero step
        return _step(grad, fisher, delta, damping, features, left, advantages, theta, episodes, line_search,
                     max_backtracks)


def _step(grad, fisher, delta, damping, features, left, advantages, theta, episodes, line_search, max_backtracks):
    d = grad.shape[0]
    if features.shape[0] == 0:
        return NaturalStep(np.zeros(d), 0.0, 0)
    fisher = fisher * (episodes / features.shape[0])  # per trajectory -> per state, the KL's scale
    damped = fisher + damping * np.eye(d)
    try:
        direction = np.linalg.solve(damped, grad)
    except np.linalg.LinAlgError:
        direction = np.linalg.lstsq(damped, grad, rcond=None)[0]
    quad = float(direction @ fisher @ direction)
    if not math.isfinite(quad) or quad <= 0.0:
        return NaturalStep(np.zeros(d), 0.0, 0)
    step = math.sqrt(2.0 * delta / quad) * direction
    if not line_search:
        return NaturalStep(step, mean_kl(features, theta, theta + step), 0)
    base = surrogate(features, left, advantages, theta, theta, episodes)
    for k in range(max_backtracks + 1):
        kl = mean_kl(features, theta, theta + step)
        if kl <= delta and surrogate(features, left, advantages, theta, theta + step, episodes) > base:
            return NaturalStep(step, kl, k)
        step = 0.5 * step
    return NaturalStep(np.zeros(d), 0.0, max_backtracks)


def _checked(grad, fisher, features, left, advantages, theta):
    """The step's arrays as float64 (bool for ``left``), shapes checked against θ's d; ``ValueError`` otherwise."""
    theta = check_theta(theta)
    d = theta.shape[0]
    arrays = []
    for name, value, shape, dtype in (("grad", grad, (d,), np.float64), ("fisher", fisher, (d, d), np.float64),
                                      ("features", features, (None, d), np.float64), ("left", left, (None,), np.bool_),
                                      ("advantages", advantages, (None, d), np.float64)):
        array = np.asarray(value)
        if array.dtype.kind not in ("b" if dtype is np.bool_ else "iuf") or array.ndim != len(shape) or any(
                want is not None and got != want for got, want in zip(array.shape, shape)):
            raise ValueError(f"{name} must be {np.dtype(dtype).name} of shape {shape} (None: any), got "
                             f"{array.dtype} {array.shape}")
        array = array.astype(dtype)
        if dtype is np.float64 and not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite")
        arrays.append(array)
    n = arrays[2].shape[0]
    if arrays[3].shape[0] != n or arrays[4].shape[0] != n:
        raise ValueError(f"features, left and advantages must have as many rows, got {n}, {arrays[3].shape[0]} "
                         f"and {arrays[4].shape[0]}")
    return (*arrays, theta)
