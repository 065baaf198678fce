"""Rollout kernels: the exact simulator driven by the logistic policy, one episode per ``prange`` iteration.

Every batch kernel comes twice, with bit-identical results: a ``prange`` loop on as many threads as
``numba.set_num_threads`` allows, and a plain loop for one thread (no thread-pool launch).
The episode loops are written the same way throughout: θ and the random stream's state in
registers, cos/sin of the angle before the policy's exp, and the next state chosen by
``cartpole_dynamics_left``; together these took a step from 41-50 to 27-30 ns (AMD EPYC).

Psi codes (``fastpg.pg.options``): ``PSI_TOTAL`` (Psi_t = sum_t' gamma^t' r_t'),
``PSI_FROM_START`` (reward-to-go sum_{t'>=t} gamma^t' r_t') and
``PSI_FROM_STEP`` (reward-to-go sum_{t'>=t} gamma^(t'-t) r_t').
"""

from __future__ import annotations

import functools
import math

from .._jit import njit, prange, serial_and_parallel
from .._rng import rng_next, rng_seed_episode
from ..cartpole.kernels import cartpole_dynamics_left, cartpole_reward, cartpole_terminated
from ..cartpole.spec import MAX_EPISODE_STEPS
from ._policy import observe, policy_act, policy_weights, sigmoid, weights_logit
from .options import PSI_FROM_START, PSI_FROM_STEP, PSI_TOTAL


@njit(inline="always")
def episode_rollout(theta, state0, key, episode, params, greedy, rng, features, left, logits, rewards):
    """Run one episode from ``state0`` (float64[4]) until termination or truncation.

    Writes per step t: ``features[t]`` (float64[d], the policy input), ``left[t]`` (action 0 taken),
    ``logits[t]`` (theta . features) and ``rewards[t]``. ``rng`` (uint64[4]) is scratch for the
    episode's stream (key, episode); a greedy episode draws nothing. Returns the episode length.
    Inlined into its caller, like :func:`episode_play` (one loop for both values of ``greedy``: unlike
    play, splitting it bought nothing here, and each copy of a loop costs compile time).
    """
    rng_seed_episode(key, episode, rng)
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    x, x_dot, angle, angle_dot = state0[0], state0[1], state0[2], state0[3]
    horizon = int(params[MAX_EPISODE_STEPS])
    w_theta, bias = policy_weights(theta), theta.shape[0] == 5
    for t in range(horizon):
        f0, f1, f2, f3 = observe(x), observe(x_dot), observe(angle), observe(angle_dot)
        cos_angle, sin_angle = math.cos(angle), math.sin(angle)
        z = weights_logit(w_theta, bias, f0, f1, f2, f3)
        go_left, s0, s1, s2, s3 = policy_act(z, greedy, s0, s1, s2, s3)
        x, x_dot, angle, angle_dot = cartpole_dynamics_left(x, x_dot, angle, angle_dot, go_left, params, cos_angle,
                                                            sin_angle)
        terminated = cartpole_terminated(x, angle, params)
        features[t, 0], features[t, 1], features[t, 2], features[t, 3] = f0, f1, f2, f3
        if bias:
            features[t, 4] = 1.0
        left[t] = go_left
        logits[t] = z
        rewards[t] = cartpole_reward(terminated, params)
        if terminated:
            return t + 1
    return horizon


def _rollout_batch(theta, states0, key, params, greedy, rng, features, left, logits, rewards, lengths):
    """Run ``m = states0.shape[0]`` episodes; episode i writes row i of every output (see episode_rollout)."""
    for i in prange(states0.shape[0]):
        lengths[i] = episode_rollout(theta, states0[i], key, i, params, greedy, rng[i], features[i], left[i],
                                     logits[i], rewards[i])


rollout_batch_serial, rollout_batch = serial_and_parallel(_rollout_batch)  # one thread: no thread-pool launch


@njit(inline="always")
def _axpy(acc, a, f):
    """acc + a * f for 5-tuples, entry by entry."""
    return (acc[0] + a * f[0], acc[1] + a * f[1], acc[2] + a * f[2], acc[3] + a * f[3], acc[4] + a * f[4])


@njit(inline="always")
def _scale_add(c, acc, f):
    """c * acc + f for 5-tuples, entry by entry."""
    return (c * acc[0] + f[0], c * acc[1] + f[1], c * acc[2] + f[2], c * acc[3] + f[3], c * acc[4] + f[4])


@njit(inline="always")
def episode_stream(theta, state0, key, episode, params, psi, gamma, with_fisher, d, rng, grad, score_sum, fisher):
    """Run one episode and write its gradient terms without storing the trajectory.

    Writes ``grad`` (float64[d]) = sum_t s_t Psi_t for the ``psi`` code, ``score_sum`` = sum_t s_t and,
    if ``with_fisher``, ``fisher`` (float64[d, d]) = sum_t p(1-p) f f^T, where s_t = (1[left] - p_t) f_t.
    ``d`` is theta's length (4, or 5 with the bias). Inlined into its caller: where the caller passes
    ``psi``, ``with_fisher`` and ``d`` as constants (the kernels of :func:`stream_kernel` do), work the
    caller did not ask for is not compiled in. The sums are 5-tuples of scalars kept in registers (the
    5th, the bias's, is dead code when d = 4) and are written to the arrays once, at the end: with no
    store in the loop, the compiler also reads ``params`` once instead of every step.
    ``rng`` (uint64[4]) is scratch. Returns (length, discounted return sum_t gamma^t r_t, undiscounted return).
    """
    rng_seed_episode(key, episode, rng)
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]  # the stream's state lives in registers
    x, x_dot, angle, angle_dot = state0[0], state0[1], state0[2], state0[3]
    if with_fisher:
        for k in range(d):
            for j in range(k, d):
                fisher[k, j] = 0.0
    zero = (0.0, 0.0, 0.0, 0.0, 0.0)
    scores, psi_sum, trace = zero, zero, zero  # sum_t s_t; sum_t s_t Psi_t (reward to go); sum gamma^(t-t') s_t'
    horizon = int(params[MAX_EPISODE_STEPS])
    discounted, total, disc = 0.0, 0.0, 1.0
    length = horizon
    w_theta = policy_weights(theta)  # read once, kept in registers
    for t in range(horizon):
        f = (observe(x), observe(x_dot), observe(angle), observe(angle_dot), 1.0)  # f[4]: the bias input
        cos_angle, sin_angle = math.cos(angle), math.sin(angle)
        p = sigmoid(weights_logit(w_theta, d == 5, f[0], f[1], f[2], f[3]))
        u, s0, s1, s2, s3 = rng_next(s0, s1, s2, s3)
        go_left = u < p
        x, x_dot, angle, angle_dot = cartpole_dynamics_left(x, x_dot, angle, angle_dot, go_left, params, cos_angle,
                                                            sin_angle)
        terminated = cartpole_terminated(x, angle, params)
        r = cartpole_reward(terminated, params)
        weight = (1.0 if go_left else 0.0) - p  # the sums after the libm calls: shorter code between them is faster
        scores = _axpy(scores, weight, f)
        if psi == PSI_FROM_STEP:
            trace = _scale_add(gamma, trace, (weight * f[0], weight * f[1], weight * f[2], weight * f[3], weight))
        if with_fisher:
            w = p * (1.0 - p)
            for k in range(d):
                wk = w * f[k]
                for j in range(k, d):
                    fisher[k, j] += wk * f[j]
        discounted += disc * r
        total += r
        if psi == PSI_FROM_START:
            psi_sum = _axpy(psi_sum, disc * r, scores)
        elif psi == PSI_FROM_STEP:
            psi_sum = _axpy(psi_sum, r, trace)
        disc *= gamma
        if terminated:
            length = t + 1
            break
    for k in range(d):
        grad[k] = 0.0 + discounted * scores[k] if psi == PSI_TOTAL else psi_sum[k]
        score_sum[k] = scores[k]
    if with_fisher:
        for k in range(d):
            for j in range(k):
                fisher[k, j] = fisher[j, k]
    return length, discounted, total


@functools.cache
def stream_kernel(psi, with_fisher, d, parallel):
    """The kernel that streams m episodes for one (psi code, with_fisher, d), compiled on first use.

    ``kernel(theta, states0, key, params, gamma, rng, grads, score_sums, fishers, lengths, discounted, totals)``:
    episode i writes row i of every output (see episode_stream). ``fishers`` float64[m, d, d] is written only
    with the Fisher matrix: otherwise pass an array of shape (m, 0, 0). ``parallel``: a ``prange`` loop over
    the episodes on Numba's threads; else a plain loop on the calling thread (for one thread: no thread-pool
    launch, and measured faster per step). Both give the same bits (tested).
    """
    psi, with_fisher, d = int(psi), bool(with_fisher), int(d)

    @njit
    def stream_episode(theta, state0, key, episode, params, gamma, rng, grad, score_sum, fisher):
        return episode_stream(theta, state0, key, episode, params, psi, gamma, with_fisher, d, rng, grad, score_sum,
                              fisher)

    def stream_batch(theta, states0, key, params, gamma, rng, grads, score_sums, fishers, lengths, discounted,
                     totals):
        for i in prange(states0.shape[0]):  # one call per episode: the episode loop is compiled once, outside
            lengths[i], discounted[i], totals[i] = stream_episode(  # the prange body, for serial and parallel
                theta, states0[i], key, i, params, gamma, rng[i], grads[i], score_sums[i], fishers[i])

    return serial_and_parallel(stream_batch)[1 if parallel else 0]


@njit(inline="always")
def episode_play(theta, state0, key, episode, params, greedy, rng):
    """Run one episode without storing or accumulating anything; returns (length, undiscounted return).

    A greedy episode computes no sigmoid and draws nothing. ``rng`` (uint64[4]) is scratch.
    Inlined into its caller, with one loop for each value of ``greedy``: compiled as a separate
    function and linked into its caller, the same loop ran 1.3-1.6x slower per step (AMD EPYC,
    Numba 0.68) once the caller came from Numba's disk cache.
    """
    rng_seed_episode(key, episode, rng)
    if greedy:
        return _play_loop(theta, state0, params, True, rng)
    return _play_loop(theta, state0, params, False, rng)


@njit(inline="always")
def _play_loop(theta, state0, params, greedy, rng):
    """episode_play's loop for a constant ``greedy``, written like :func:`episode_stream`'s."""
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    x, x_dot, angle, angle_dot = state0[0], state0[1], state0[2], state0[3]
    horizon = int(params[MAX_EPISODE_STEPS])
    w_theta, bias = policy_weights(theta), theta.shape[0] == 5
    total = 0.0
    for t in range(horizon):
        z = weights_logit(w_theta, bias, observe(x), observe(x_dot), observe(angle), observe(angle_dot))
        cos_angle, sin_angle = math.cos(angle), math.sin(angle)
        go_left, s0, s1, s2, s3 = policy_act(z, greedy, s0, s1, s2, s3)
        x, x_dot, angle, angle_dot = cartpole_dynamics_left(x, x_dot, angle, angle_dot, go_left, params, cos_angle,
                                                            sin_angle)
        terminated = cartpole_terminated(x, angle, params)
        total += cartpole_reward(terminated, params)
        if terminated:
            return t + 1, total
    return horizon, total


def _play_batch(theta, states0, key, first, params, greedy, rng, lengths, returns):
    """Play ``m`` episodes numbered ``first``, ``first + 1``, ...; row i writes lengths[i] and returns[i]."""
    for i in prange(states0.shape[0]):
        lengths[i], returns[i] = episode_play(theta, states0[i], key, first + i, params, greedy, rng[i])


play_batch_serial, play_batch = serial_and_parallel(_play_batch)  # one thread: no thread-pool launch
