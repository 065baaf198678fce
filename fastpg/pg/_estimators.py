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
    BASELINE_BATCH_MEAN, BASELINE_BATCH_MEAN_LOO, BASELINE_OPTIMAL, BASELINE_OPTIMAL_LOO, BASELINE_PER_TIMESTEP,
    BASELINE_PER_TIMESTEP_LOO, BASELINE_PER_TIMESTEP_RUNNING, BASELINE_PER_TIMESTEP_SCORE_WEIGHTED, NORMALIZE_BATCH,
    NORMALIZE_NONE, PSI_FROM_STEP, PSI_TOTAL,
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
def returns_fill(rewards, lengths, out):
    """Write each episode's undiscounted return sum_{t < lengths[i]} rewards[i, t] into ``out`` (float64[m])."""
    for i in range(lengths.shape[0]):
        total = 0.0
        for t in range(lengths[i]):
            total += rewards[i, t]
        out[i] = total


@njit
def mean_rows(values, out):
    """Write the mean of the rows of ``values`` (float64[m, d], m >= 1) into ``out`` (float64[d]): summed in
    row order and divided by m, the bits of NumPy's ``np.add.reduce(values, axis=0) / m``."""
    m, d = values.shape
    for k in range(d):
        out[k] = values[0, k]
    for i in range(1, m):
        for k in range(d):
            out[k] += values[i, k]
    for k in range(d):
        out[k] /= m


@njit
def others_sum(values, out):
    """out[i] = sum_{j != i} values[j] (float64[m]), from prefix and suffix sums: no cancellation."""
    m = values.shape[0]
    acc = 0.0
    for i in range(m):
        out[i] = acc
        acc += values[i]
    acc = 0.0
    for i in range(m - 1, -1, -1):
        out[i] += acc
        acc += values[i]


@njit
def _trajectory_scores(features, left, logits, lengths, k, out):
    """out[i] = S_ik = sum_t s_{i,t,k}, the trajectory score of episode i for parameter k (float64[m])."""
    for i in range(features.shape[0]):
        s = 0.0
        for t in range(lengths[i]):
            s += _score(left[i, t], logits[i, t], features[i, t, k])
        out[i] = s


@njit
def baseline_fill(features, left, logits, lengths, psi_values, kind, out):
    """Write the baseline b[i, t, k] subtracted from Psi_{i,t} for parameter k into ``out``.

    ``out`` is float64[m, T, d] for the leave-one-out kinds (episode i's baseline from the other
    m - 1 episodes, m >= 2) and float64[1, T, d] for the others (one baseline for every episode).
    NONE: 0. BATCH_MEAN: mean_j Psi_{j,0}, the batch mean of returns. PER_TIMESTEP: 1/m sum_j Psi_{j,t},
    with Psi_{j,t} = 0 once episode j has ended (the reward still to come is zero).
    PER_TIMESTEP_RUNNING: mean of Psi_{j,t} over the episodes still running at t. OPTIMAL (seed 002):
    per parameter, sum_j S_jk^2 Psi_{j,0} / sum_j S_jk^2 with S_j = sum_t s_t, the trajectory score.
    PER_TIMESTEP_SCORE_WEIGHTED: sum_j s_{j,t,k}^2 Psi_{j,t} / sum_j s_{j,t,k}^2 over running episodes.
    The _LOO kinds are BATCH_MEAN, PER_TIMESTEP and OPTIMAL with every sum over j != i and 1/m
    replaced by 1/(m - 1): b is then independent of episode i, and the estimator unbiased.
    The shared kinds use the episode itself, so the estimator is biased: with BATCH_MEAN and
    PER_TIMESTEP its expectation is exactly (m - 1)/m grad J (tested by enumeration).
    """
    m, horizon, d = features.shape
    out[:, :, :] = 0.0
    if kind == BASELINE_BATCH_MEAN or kind == BASELINE_BATCH_MEAN_LOO:
        returns, others = np.empty(m), np.empty(m)
        for i in range(m):
            returns[i] = psi_values[i, 0]
        if kind == BASELINE_BATCH_MEAN:
            out[0, :, :] = returns.sum() / m
        else:
            others_sum(returns, others)
            for i in range(m):
                out[i, :, :] = others[i] / (m - 1)
    elif kind == BASELINE_PER_TIMESTEP or kind == BASELINE_PER_TIMESTEP_RUNNING or kind == BASELINE_PER_TIMESTEP_LOO:
        column, others = np.empty(m), np.empty(m)
        for t in range(horizon):
            count = 0
            for i in range(m):
                column[i] = 0.0
                if t < lengths[i]:
                    column[i] = psi_values[i, t]
                    count += 1
            if kind == BASELINE_PER_TIMESTEP_LOO:
                others_sum(column, others)
                for i in range(m):
                    out[i, t, :] = others[i] / (m - 1)
            elif count:
                out[0, t, :] = column.sum() / (m if kind == BASELINE_PER_TIMESTEP else count)
    elif kind == BASELINE_OPTIMAL or kind == BASELINE_OPTIMAL_LOO:
        scores, weighted, squares = np.empty(m), np.empty(m), np.empty(m)
        num, den = np.empty(m), np.empty(m)
        for k in range(d):
            _trajectory_scores(features, left, logits, lengths, k, scores)
            for i in range(m):
                squares[i] = scores[i] * scores[i]
                weighted[i] = squares[i] * psi_values[i, 0]
            if kind == BASELINE_OPTIMAL:
                total = squares.sum()
                if total > 0.0:
                    out[0, :, k] = weighted.sum() / total
                continue
            others_sum(weighted, num)
            others_sum(squares, den)
            for i in range(m):
                if den[i] > 0.0:
                    out[i, :, k] = num[i] / den[i]
    elif kind == BASELINE_PER_TIMESTEP_SCORE_WEIGHTED:
        for t in range(horizon):
            for k in range(d):
                num, den = 0.0, 0.0
                for i in range(m):
                    if t < lengths[i]:
                        s = _score(left[i, t], logits[i, t], features[i, t, k])
                        num += s * s * psi_values[i, t]
                        den += s * s
                if den > 0.0:
                    out[0, t, k] = num / den


@njit(inline="always")
def _standardization(lengths, psi_values, baseline, k, first, last, ddof, eps):
    """(shift, scale) that standardize parameter k's advantages A = Psi - b over episodes first..last-1.

    A = (A - mean) * scale with scale = 1 / (std + eps), the std (ddof 0 or 1) taken in two passes
    (no cancellation of E[A^2] - mean^2). A spread that is zero up to rounding (or fewer than
    ddof + 1 steps) gives scale = 0, so every normalized advantage and the gradient are exactly 0
    instead of rounding noise divided by eps (e.g. every episode truncated, with a per-timestep
    baseline). Tolerance: each A is a difference of Psi (a sum of at most T = 500 rewards) and b (an
    average over at most m episodes), both exact to a few hundred ulps of their magnitude
    M = max |Psi| + |b| (~1e-13 M), and the two-pass std of equal values is within ~count ulps of
    |mean| <= M; genuine spreads between CartPole returns are whole discounted rewards, many orders
    larger. So std <= 1e-12 max(1, M) means "no spread".
    """
    total, magnitude, count = 0.0, 0.0, 0
    for i in range(first, last):
        bi = i if baseline.shape[0] > 1 else 0
        for t in range(lengths[i]):
            total += psi_values[i, t] - baseline[bi, t, k]
            magnitude = max(magnitude, abs(psi_values[i, t]) + abs(baseline[bi, t, k]))
            count += 1
    if count <= ddof:
        return 0.0, 0.0
    shift = total / count
    total_sq = 0.0
    for i in range(first, last):
        bi = i if baseline.shape[0] > 1 else 0
        for t in range(lengths[i]):
            a = psi_values[i, t] - baseline[bi, t, k] - shift
            total_sq += a * a
    std = math.sqrt(total_sq / (count - ddof))
    if std <= 1e-12 * max(1.0, magnitude):
        return shift, 0.0
    return shift, 1.0 / (std + eps)


@njit(inline="always")
def _standardize_parameter(lengths, psi_values, baseline, mode, k, shift, scale):
    """Write parameter k's normalization into ``shift[:, k]`` and ``scale[:, k]`` (see ``standardization_fill``)."""
    if mode == NORMALIZE_NONE:
        shift[0, k], scale[0, k] = 0.0, 1.0
    elif mode == NORMALIZE_BATCH:
        shift[0, k], scale[0, k] = _standardization(lengths, psi_values, baseline, k, 0, lengths.shape[0], 0, 1e-8)
    else:
        for i in range(lengths.shape[0]):
            shift[i, k], scale[i, k] = _standardization(lengths, psi_values, baseline, k, i, i + 1, 1, 0.0)


@njit
def standardization_fill(lengths, psi_values, baseline, mode, shift, scale):
    """The normalization of the advantages A = Psi - b, per parameter, into ``shift`` and ``scale``.

    NORMALIZE_NONE: shift 0, scale 1 (float64[1, d]). NORMALIZE_BATCH: over all of the batch's steps,
    ddof 0, 1 / (std + 1e-8) (float64[1, d]). NORMALIZE_EPISODE (seed 001): over each episode's own
    steps, ddof 1, 1 / std (float64[m, d], row i for episode i). Zero spread: scale 0 (see ``_standardization``).
    """
    for k in range(baseline.shape[2]):
        _standardize_parameter(lengths, psi_values, baseline, mode, k, shift, scale)


@njit
def gradient_accumulate(features, left, logits, lengths, psi_values, baseline, mode, shift, scale, per_episode, grad,
                        advantages):
    """The batch estimator 1/m sum_i sum_t s_t A_t (seed 003) and its per-episode terms.

    A_{i,t,k} = (Psi_{i,t} - b[i,t,k] - shift[i,k]) * scale[i,k], where ``baseline`` (float64[1 or m, T, d])
    has one row shared by every episode or one per episode, and the normalization ``mode`` writes
    ``shift`` and ``scale`` (float64[1 or m, d], as ``standardization_fill`` does) first. Writes
    per_episode[i, k] = sum_t s_{i,t,k} A_{i,t,k} (float64[m, d]), grad = mean over i (float64[d],
    summed in episode order) and the advantages used, A[i, t, k], into ``advantages`` (float64[m, T, d])
    for off-policy reuse.
    """
    m, horizon, d = features.shape
    for k in range(d):
        _standardize_parameter(lengths, psi_values, baseline, mode, k, shift, scale)
        acc = 0.0
        for i in range(m):
            bi, si = (i if baseline.shape[0] > 1 else 0), (i if shift.shape[0] > 1 else 0)
            c, mu = scale[si, k], shift[si, k]
            g = 0.0
            for t in range(lengths[i]):
                a = (psi_values[i, t] - baseline[bi, t, k] - mu) * c
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
    """Importance-weighted gradient at theta_new: 1/m sum_i sum_t s^new_{i,t,k} c_ik (P_it - w_it (b_itk + mu_ik)).

    ``weighted_psi`` P float64[m, T] from ``weighted_psi_fill``; ``weights`` float64[m, T] the ratio
    products w_{i,t} that weight the baseline term (it depends on the trajectory up to t only);
    ``baseline`` float64[1 or m, T, d], ``shift`` mu / ``scale`` c float64[1 or m, d] the batch's
    normalization (0 and 1 without it), one row shared or one per episode, as in ``gradient_accumulate``.
    At theta_new = theta_old with unit weights this is the batch's own estimate.
    """
    m, horizon, d = features.shape
    grad[:] = 0.0
    for i in range(m):
        bi, si = (i if baseline.shape[0] > 1 else 0), (i if shift.shape[0] > 1 else 0)
        for t in range(lengths[i]):
            u = _score_weight(theta_new, features, left, i, t)
            for k in range(d):
                a = (weighted_psi[i, t] - weights[i, t] * (baseline[bi, t, k] + shift[si, k])) * scale[si, k]
                grad[k] += u * features[i, t, k] * a
    for k in range(d):
        grad[k] /= m
