"""The KL-penalized surrogate's ascent terms over a stored batch, as one Numba kernel (``kl_penalty``'s inner steps)."""

from __future__ import annotations

import math

from .._jit import njit
from ._policy import log_sigmoid, sigmoid


@njit
def old_policy_fill(left, logits, lengths, log_pi, p_left):
    """log π_old(a_t|s_t) into ``log_pi`` and π_old(left|s_t) into ``p_left`` (float64[m, T]), from stored logits."""
    for i in range(lengths.shape[0]):
        for t in range(lengths[i]):
            z = logits[i, t]
            log_pi[i, t] = log_sigmoid(z) if left[i, t] else log_sigmoid(-z)
            p_left[i, t] = sigmoid(z)


@njit
def penalty_terms_fill(theta, features, left, lengths, log_pi_old, p_old, advantages, lam, grad, hessian):
    """∇L(θ) into ``grad`` (float64[d]) and ∇²KL(θ) into ``hessian`` (float64[d, d]), for L = S - λ KL.

    ∇S = 1/m Σ_i Σ_t ρ_t (1[left] - p_t) Â_t f_t with ρ_t = π_θ(a_t|s_t) / π_old(a_t|s_t); ∇KL =
    1/n Σ (p_t - p_old,t) f_t and ∇²KL = 1/n Σ p_t (1 - p_t) f_t f_t^T over the batch's n >= 1 steps,
    p_t = π_θ(left|s_t). ``log_pi_old``, ``p_old``: as ``old_policy_fill`` writes them; ``advantages``
    float64[m, T] (Â_t); ``lam`` λ >= 0.
    """
    m, horizon, d = features.shape
    steps = 0
    for i in range(m):
        steps += lengths[i]
    grad[:] = 0.0
    hessian[:, :] = 0.0
    for i in range(m):
        for t in range(lengths[i]):
            z = 0.0
            for k in range(d):
                z += theta[k] * features[i, t, k]
            p = sigmoid(z)
            if left[i, t]:
                log_pi, score = log_sigmoid(z), 1.0 - p
            else:
                log_pi, score = log_sigmoid(-z), -p
            rho = math.exp(log_pi - log_pi_old[i, t])
            w = rho * score * advantages[i, t] / m - lam * (p - p_old[i, t]) / steps
            curvature = p * (1.0 - p) / steps
            for k in range(d):
                grad[k] += w * features[i, t, k]
                for j in range(k, d):
                    hessian[k, j] += curvature * features[i, t, k] * features[i, t, j]
    for k in range(d):
        for j in range(k):
            hessian[k, j] = hessian[j, k]


@njit(inline="always")
def _spd_solve(a, b):
    """Solve a x = b in place (x into ``b``) for a symmetric positive definite a (float64[d, d], overwritten
    by its Cholesky factor). NumPy's solve is not available in kernels without SciPy; d <= 5 here."""
    d = b.shape[0]
    for j in range(d):
        for k in range(j):
            a[j, j] -= a[j, k] * a[j, k]
        a[j, j] = math.sqrt(a[j, j])
        for i in range(j + 1, d):
            for k in range(j):
                a[i, j] -= a[i, k] * a[j, k]
            a[i, j] /= a[j, j]
    for i in range(d):
        for k in range(i):
            b[i] -= a[i, k] * b[k]
        b[i] /= a[i, i]
    for i in range(d - 1, -1, -1):
        for k in range(i + 1, d):
            b[i] -= a[k, i] * b[k]
        b[i] /= a[i, i]


@njit
def penalty_ascent(features, left, lengths, log_pi_old, p_old, advantages, lam, lr, steps, grad, hessian,
                   theta):
    """``steps`` proximal Newton steps θ += (λ ∇²KL(θ) + I/η)^-1 ∇L(θ), in place on ``theta`` (float64[d], θ_old
    on entry); ``grad`` float64[d] and ``hessian`` float64[d, d] are work arrays. η = ``lr`` > 0."""
    d = theta.shape[0]
    for _ in range(steps):
        penalty_terms_fill(theta, features, left, lengths, log_pi_old, p_old, advantages, lam, grad, hessian)
        for k in range(d):
            for j in range(d):
                hessian[k, j] *= lam
            hessian[k, k] += 1.0 / lr
        _spd_solve(hessian, grad)
        for k in range(d):
            theta[k] += grad[k]
