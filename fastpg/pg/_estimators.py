"""Policy-gradient estimators over a stored batch (seeds 000-003), as Numba kernels.

A batch is m episodes: features float64[m, T, d], left bool[m, T] (action 0 taken),
logits float64[m, T], rewards float64[m, T], lengths int64[m]; only t < lengths[i]
is read. The score of step t is s_t = grad log pi(a_t|s_t) = (1[left] - p_t) f_t.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit
from ._policy import log_sigmoid, sigmoid
from .options import (
    BASELINE_BATCH_MEAN, BASELINE_OPTIMAL, BASELINE_OPTIMAL_PER_TIMESTEP, BASELINE_PER_TIMESTEP,
    BASELINE_PER_TIMESTEP_RUNNING, PSI_FROM_STEP, PSI_TOTAL,
)


@njit(inline="always")
def _score(left, z, f_k):
    return ((1.0 if left else 0.0) - sigmoid(z)) * f_k


@njit
def psi_fill(rewards, lengths, psi, gamma, out):
    """Write Psi_{i,t} into ``out`` (float64[m, T]) for t < lengths[i].

    PSI_TOTAL: sum_t' gamma^t' r_t'; PSI_FROM_START: sum_{t'>=t} gamma^t' r_t';
    PSI_FROM_STEP: sum_{t'>=t} gamma^(t'-t) r_t'. gamma^t is a running product.
    """
    for i in range(rewards.shape[0]):
        n = lengths[i]
        if psi == PSI_FROM_STEP:
            acc = 0.0
            for t in range(n - 1, -1, -1):
                acc = rewards[i, t] + gamma * acc
                out[i, t] = acc
            continue
        disc = 1.0
        for t in range(n):  # out[i, t] = gamma^t r_t, then suffix sums
            out[i, t] = disc * rewards[i, t]
            disc *= gamma
        acc = 0.0
        for t in range(n - 1, -1, -1):
            acc += out[i, t]
            out[i, t] = acc
        if psi == PSI_TOTAL:
            for t in range(1, n):
                out[i, t] = out[i, 0]


@njit
def baseline_fill(features, left, logits, lengths, psi_values, kind, out):
    """Write the baseline b[t, k] (float64[T, d]) subtracted from Psi_{i,t} for parameter k.

    NONE: 0. BATCH_MEAN: mean_i Psi_{i,0}, the batch mean of returns. PER_TIMESTEP:
    1/m sum_i Psi_{i,t}, with Psi_{i,t} = 0 once episode i has ended (the reward still to come
    is zero). PER_TIMESTEP_RUNNING: mean of Psi_{i,t} over the episodes still running at t. OPTIMAL (seed 002): per parameter,
    sum_i S_ik^2 Psi_{i,0} / sum_i S_ik^2 with S_i = sum_t s_t, the trajectory score.
    OPTIMAL_PER_TIMESTEP: sum_i s_{i,t,k}^2 Psi_{i,t} / sum_i s_{i,t,k}^2 over running episodes.
    All of them use the episode itself, so the batch estimator is biased by O(1/m): with BATCH_MEAN
    and PER_TIMESTEP its expectation is exactly (m - 1)/m grad J (tested by enumeration).
    """
    m, horizon, d = features.shape
    out[:, :] = 0.0
    if kind == BASELINE_BATCH_MEAN:
        b = 0.0
        for i in range(m):
            b += psi_values[i, 0]
        out[:, :] = b / m
    elif kind == BASELINE_PER_TIMESTEP or kind == BASELINE_PER_TIMESTEP_RUNNING:
        for t in range(horizon):
            total, count = 0.0, 0
            for i in range(m):
                if t < lengths[i]:
                    total += psi_values[i, t]
                    count += 1
            if count:
                out[t, :] = total / (m if kind == BASELINE_PER_TIMESTEP else count)
    elif kind == BASELINE_OPTIMAL:
        for k in range(d):
            num, den = 0.0, 0.0
            for i in range(m):
                s = 0.0
                for t in range(lengths[i]):
                    s += _score(left[i, t], logits[i, t], features[i, t, k])
                num += s * s * psi_values[i, 0]
                den += s * s
            if den > 0.0:
                out[:, k] = num / den
    elif kind == BASELINE_OPTIMAL_PER_TIMESTEP:
        for t in range(horizon):
            for k in range(d):
                num, den = 0.0, 0.0
                for i in range(m):
                    if t < lengths[i]:
                        s = _score(left[i, t], logits[i, t], features[i, t, k])
                        num += s * s * psi_values[i, t]
                        den += s * s
                if den > 0.0:
                    out[t, k] = num / den


@njit(inline="always")
def _standardization(lengths, psi_values, baseline, k, normalize):
    """(shift, scale) that standardize parameter k's advantages A = Psi - b over the batch's steps: (0, 1) if not asked.

    A = (A - mean) * scale with scale = 1 / (std + 1e-8), the std taken in two passes (no
    cancellation of E[A^2] - mean^2). A spread that is zero up to rounding gives scale = 0, so every
    normalized advantage and the gradient are exactly 0 instead of rounding noise divided by 1e-8
    (e.g. every episode truncated, with a per-timestep baseline). Tolerance: each A is a difference
    of Psi (a sum of at most T = 500 rewards) and b (an average over at most m episodes), both exact
    to a few hundred ulps of their magnitude M = max |Psi| + |b| (~1e-13 M), and the two-pass std
    of equal values is within ~count ulps of |mean| <= M; genuine spreads between CartPole episodes
    are whole discounted rewards, many orders larger. So std <= 1e-12 max(1, M) means "no spread".
    """
    if not normalize:
        return 0.0, 1.0
    total, magnitude, count = 0.0, 0.0, 0
    for i in range(psi_values.shape[0]):
        for t in range(lengths[i]):
            total += psi_values[i, t] - baseline[t, k]
            magnitude = max(magnitude, abs(psi_values[i, t]) + abs(baseline[t, k]))
            count += 1
    if count == 0:
        return 0.0, 0.0
    shift = total / count
    total_sq = 0.0
    for i in range(psi_values.shape[0]):
        for t in range(lengths[i]):
            a = psi_values[i, t] - baseline[t, k] - shift
            total_sq += a * a
    std = math.sqrt(total_sq / count)
    if std <= 1e-12 * max(1.0, magnitude):
        return shift, 0.0
    return shift, 1.0 / (std + 1e-8)


@njit
def standardization_fill(lengths, psi_values, baseline, normalize, shift, scale):
    """The normalization ``gradient_accumulate`` applies, per parameter, into ``shift`` and ``scale`` (float64[d])."""
    for k in range(baseline.shape[1]):
        shift[k], scale[k] = _standardization(lengths, psi_values, baseline, k, normalize)


@njit
def gradient_accumulate(features, left, logits, lengths, psi_values, baseline, normalize, per_episode, grad, advantages):
    """The batch estimator 1/m sum_i sum_t s_t (Psi_t - b_t) (seed 003) and its per-episode terms.

    Writes per_episode[i, k] = sum_t s_{i,t,k} A_{i,t,k} (float64[m, d]) and grad = mean over i
    (float64[d], summed in episode order). With ``normalize`` the advantages A = Psi - b are
    standardized per parameter over all steps of the batch: (A - mean) / (std + 1e-8), and all 0 if the
    spread is zero up to rounding (see ``_standardization``). Writes the
    advantages used, A[i, t, k], into ``advantages`` (float64[m, T, d]) for off-policy reuse.
    """
    m, horizon, d = features.shape
    for k in range(d):
        shift, scale = _standardization(lengths, psi_values, baseline, k, normalize)
        acc = 0.0
        for i in range(m):
            g = 0.0
            for t in range(lengths[i]):
                a = (psi_values[i, t] - baseline[t, k] - shift) * scale
                advantages[i, t, k] = a
                g += _score(left[i, t], logits[i, t], features[i, t, k]) * a
            per_episode[i, k] = g
            acc += g
        grad[k] = acc / m


@njit
def fisher_accumulate(features, logits, lengths, out):
    """Fisher information 1/m sum_i sum_t p(1-p) f f^T of the batch into ``out`` (float64[d, d])."""
    m, horizon, d = features.shape
    out[:, :] = 0.0
    for i in range(m):
        for t in range(lengths[i]):
            p = sigmoid(logits[i, t])
            w = p * (1.0 - p)
            for k in range(d):
                for j in range(d):
                    out[k, j] += w * features[i, t, k] * features[i, t, j]
    for k in range(d):
        for j in range(d):
            out[k, j] /= m


@njit
def log_ratio_fill(theta_new, features, left, logits, lengths, out):
    """log pi_new(a_t|s_t) - log pi_old(a_t|s_t) per step into ``out`` (float64[m, T]), from stored logits."""
    m, horizon, d = features.shape
    for i in range(m):
        for t in range(lengths[i]):
            z_new = 0.0
            for k in range(d):
                z_new += theta_new[k] * features[i, t, k]
            z_old = logits[i, t]
            if left[i, t]:
                out[i, t] = log_sigmoid(z_new) - log_sigmoid(z_old)
            else:
                out[i, t] = log_sigmoid(-z_new) - log_sigmoid(-z_old)


@njit(inline="always")
def _score_weight(theta, features, left, i, t):
    """1[left] - pi_theta(left | s_{i,t}): the score of step t of episode i is this times its features."""
    z = 0.0
    for k in range(theta.shape[0]):
        z += theta[k] * features[i, t, k]
    return (1.0 if left[i, t] else 0.0) - sigmoid(z)


@njit
def reweighted_gradient_accumulate(theta_new, features, left, lengths, advantages, weights, grad):
    """Off-policy gradient at theta_new from a stored batch: 1/m sum_i sum_t w_{i,t} s^new_{i,t,k} A_{i,t,k}.

    ``weights`` float64[m, T]: per-trajectory (w_{i,t} = w_i for all t) or per-decision
    (w_{i,t} = prod_{t'<=t} rho_{i,t'}) importance weights; ``advantages`` float64[m, T, d], as
    written by ``gradient_accumulate``. At theta_new = theta_old with unit weights this is the batch's
    own estimate.
    """
    m, horizon, d = features.shape
    grad[:] = 0.0
    for i in range(m):
        for t in range(lengths[i]):
            w = weights[i, t] * _score_weight(theta_new, features, left, i, t)
            for k in range(d):
                grad[k] += w * advantages[i, t, k] * features[i, t, k]
    for k in range(d):
        grad[k] /= m


@njit
def weighted_psi_fill(rewards, lengths, weights, psi, gamma, out):
    """Per-decision importance-weighted Psi_{i,t} into ``out`` (float64[m, T]) for t < lengths[i].

    Each reward is weighted by the ratio product up to the later of its own step and the score's
    step (Precup et al.'s per-decision importance sampling): with w_{i,t} = ``weights[i, t]``
    (prod_{t''<=t} rho_{i,t''}), PSI_FROM_START: sum_{t'>=t} w_t' gamma^t' r_t'; PSI_FROM_STEP:
    sum_{t'>=t} w_t' gamma^(t'-t) r_t'; PSI_TOTAL: w_t sum_{t'<t} gamma^t' r_t' + sum_{t'>=t} w_t' gamma^t' r_t'.
    With constant weights per episode (per-trajectory ratios) this is w_i Psi_{i,t}.
    """
    for i in range(rewards.shape[0]):
        n = lengths[i]
        if psi == PSI_FROM_STEP:
            acc = 0.0
            for t in range(n - 1, -1, -1):
                acc = weights[i, t] * rewards[i, t] + gamma * acc
                out[i, t] = acc
            continue
        disc = 1.0
        for t in range(n):  # out[i, t] = w_t gamma^t r_t, then suffix sums
            out[i, t] = weights[i, t] * (disc * rewards[i, t])
            disc *= gamma
        acc = 0.0
        for t in range(n - 1, -1, -1):
            acc += out[i, t]
            out[i, t] = acc
        if psi == PSI_TOTAL:  # rewards before t: the score at t already needs the ratios up to t
            disc, before = 1.0, 0.0
            for t in range(n):
                out[i, t] += weights[i, t] * before
                before += disc * rewards[i, t]
                disc *= gamma


@njit
def offpolicy_gradient_accumulate(theta_new, features, left, lengths, weighted_psi, weights, baseline, shift, scale,
                                  grad):
    """Importance-weighted gradient at theta_new: 1/m sum_i sum_t s^new_{i,t,k} scale_k (P_{i,t} - w_{i,t} (b[t,k] + shift_k)).

    ``weighted_psi`` P float64[m, T] from ``weighted_psi_fill``; ``weights`` float64[m, T] the ratio
    products w_{i,t} that weight the baseline term (it depends on the trajectory up to t only);
    ``baseline`` float64[T, d], ``shift``/``scale`` float64[d] the batch's normalization
    (0 and 1 without it). At theta_new = theta_old with unit weights this is the batch's own estimate.
    """
    m, horizon, d = features.shape
    grad[:] = 0.0
    for i in range(m):
        for t in range(lengths[i]):
            u = _score_weight(theta_new, features, left, i, t)
            for k in range(d):
                a = (weighted_psi[i, t] - weights[i, t] * (baseline[t, k] + shift[k])) * scale[k]
                grad[k] += u * features[i, t, k] * a
    for k in range(d):
        grad[k] /= m
