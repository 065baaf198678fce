"""Rollout kernels: the exact simulator driven by the logistic policy, one episode per ``prange`` iteration.

Batch kernels are compiled with ``parallel=True``; they run on as many threads as
``numba.set_num_threads`` allows (one included) with bit-identical results.

Psi codes (``fastpg.pg.options``): ``PSI_TOTAL`` (Psi_t = sum_t' gamma^t' r_t'),
``PSI_FROM_START`` (reward-to-go sum_{t'>=t} gamma^t' r_t') and
``PSI_FROM_STEP`` (reward-to-go sum_{t'>=t} gamma^(t'-t) r_t').
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, pnjit, prange
from .._rng import rng_seed_episode, rng_uniform
from ..cartpole.kernels import cartpole_dynamics, cartpole_reward, cartpole_terminated
from ..cartpole.spec import MAX_EPISODE_STEPS
from ._policy import policy_act, policy_observe, sigmoid
from .options import PSI_FROM_START, PSI_FROM_STEP, PSI_TOTAL


@njit
def episode_rollout(theta, state0, key, episode, params, greedy, rng, features, left, logits, rewards):
    """Run one episode from ``state0`` (float64[4]) until termination or truncation.

    Writes per step t: ``features[t]`` (float64[d], the policy input), ``left[t]`` (action 0 taken),
    ``logits[t]`` (theta . features) and ``rewards[t]``. ``rng`` (uint64[4]) is scratch for the
    episode's stream (key, episode); a greedy episode draws nothing. Returns the episode length.
    """
    rng_seed_episode(key, episode, rng)
    x, x_dot, angle, angle_dot = state0[0], state0[1], state0[2], state0[3]
    horizon = int(params[MAX_EPISODE_STEPS])
    for t in range(horizon):
        z = policy_observe(theta, x, x_dot, angle, angle_dot, features[t])
        go_left = policy_act(z, greedy, rng)
        left[t] = go_left
        logits[t] = z
        x, x_dot, angle, angle_dot = cartpole_dynamics(x, x_dot, angle, angle_dot, 0 if go_left else 1, params)
        terminated = cartpole_terminated(x, angle, params)
        rewards[t] = cartpole_reward(terminated, params)
        if terminated:
            return t + 1
    return horizon


@pnjit
def rollout_batch(theta, states0, key, params, greedy, rng, features, left, logits, rewards, lengths):
    """Run ``m = states0.shape[0]`` episodes; episode i writes row i of every output (see episode_rollout)."""
    for i in prange(states0.shape[0]):
        lengths[i] = episode_rollout(theta, states0[i], key, i, params, greedy, rng[i], features[i], left[i],
                                     logits[i], rewards[i])


@njit
def episode_stream(theta, state0, key, episode, params, psi, gamma, with_fisher, rng, feature, grad, score_sum,
                   fisher):
    """Run one episode and accumulate its gradient terms without storing the trajectory.

    Adds into ``grad`` (float64[d]) sum_t s_t Psi_t for the ``psi`` code, into ``score_sum`` sum_t s_t,
    and, if ``with_fisher``, into ``fisher`` (float64[d, d]) sum_t p(1-p) f f^T (upper triangle,
    mirrored at the end), where s_t = (1[left] - p_t) f_t.
    ``feature`` (float64[d]) is scratch. Returns (length, discounted return sum_t gamma^t r_t,
    undiscounted return).
    """
    d = theta.shape[0]
    rng_seed_episode(key, episode, rng)
    x, x_dot, angle, angle_dot = state0[0], state0[1], state0[2], state0[3]
    horizon = int(params[MAX_EPISODE_STEPS])
    discounted, total, disc = 0.0, 0.0, 1.0
    trace = np.zeros(d)  # sum_{t'<=t} gamma^(t-t') s_t' for PSI_FROM_STEP; once per episode
    length = horizon
    for t in range(horizon):
        z = policy_observe(theta, x, x_dot, angle, angle_dot, feature)
        p = sigmoid(z)
        go_left = rng_uniform(rng) < p
        weight = (1.0 if go_left else 0.0) - p
        for k in range(d):
            s = weight * feature[k]
            score_sum[k] += s
            trace[k] = gamma * trace[k] + s
        if with_fisher:
            w = p * (1.0 - p)
            for k in range(d):
                wk = w * feature[k]
                for j in range(k, d):
                    fisher[k, j] += wk * feature[j]
        x, x_dot, angle, angle_dot = cartpole_dynamics(x, x_dot, angle, angle_dot, 0 if go_left else 1, params)
        terminated = cartpole_terminated(x, angle, params)
        r = cartpole_reward(terminated, params)
        discounted += disc * r
        total += r
        if psi == PSI_FROM_START:
            for k in range(d):
                grad[k] += disc * r * score_sum[k]
        elif psi == PSI_FROM_STEP:
            for k in range(d):
                grad[k] += r * trace[k]
        disc *= gamma
        if terminated:
            length = t + 1
            break
    if psi == PSI_TOTAL:
        for k in range(d):
            grad[k] += discounted * score_sum[k]
    for k in range(d):
        for j in range(k):
            fisher[k, j] = fisher[j, k]
    return length, discounted, total


@pnjit
def stream_batch(theta, states0, key, params, psi, gamma, with_fisher, rng, features, grads, score_sums, fishers,
                  lengths, discounted, totals):
    """Stream ``m`` episodes; episode i accumulates into row i of every output (see episode_stream)."""
    for i in prange(states0.shape[0]):
        length, g, total = episode_stream(theta, states0[i], key, i, params, psi, gamma, with_fisher, rng[i],
                                          features[i], grads[i], score_sums[i], fishers[i])
        lengths[i] = length
        discounted[i] = g
        totals[i] = total


@njit
def episode_play(theta, state0, key, episode, params, greedy, rng, feature):
    """Run one episode without storing or accumulating anything; returns (length, undiscounted return)."""
    rng_seed_episode(key, episode, rng)
    x, x_dot, angle, angle_dot = state0[0], state0[1], state0[2], state0[3]
    horizon = int(params[MAX_EPISODE_STEPS])
    total = 0.0
    for t in range(horizon):
        z = policy_observe(theta, x, x_dot, angle, angle_dot, feature)
        go_left = policy_act(z, greedy, rng)
        x, x_dot, angle, angle_dot = cartpole_dynamics(x, x_dot, angle, angle_dot, 0 if go_left else 1, params)
        terminated = cartpole_terminated(x, angle, params)
        total += cartpole_reward(terminated, params)
        if terminated:
            return t + 1, total
    return horizon, total


@pnjit
def play_batch(theta, states0, key, first, params, greedy, rng, feature, lengths, returns):
    """Play ``m`` episodes numbered ``first``, ``first + 1``, ...; row i writes lengths[i] and returns[i]."""
    for i in prange(states0.shape[0]):
        lengths[i], returns[i] = episode_play(theta, states0[i], key, first + i, params, greedy, rng[i], feature[i])


@njit
def play_until_hopeless(theta, states0, key, params, greedy, min_total, best_return, rng, feature, lengths,
                        returns):
    """Play episodes 0, 1, ... in order (see play_batch) and stop as soon as the total return can no longer
    reach ``min_total`` even if every remaining episode returned ``best_return``. Returns the number played."""
    m = states0.shape[0]
    total = 0.0
    for i in range(m):
        lengths[i], returns[i] = episode_play(theta, states0[i], key, i, params, greedy, rng[i], feature[i])
        total += returns[i]
        if total + (m - 1 - i) * best_return < min_total:
            return i + 1
    return m
