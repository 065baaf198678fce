"""The solve check's kernel: play episodes in order and stop once the check can no longer pass.

A check of m episodes passes if their mean return minus ``margin_se`` standard errors (sample
std, ddof 1, over sqrt(m)) is >= the threshold T. After k episodes with total S_k and sum of
squared deviations SS_k (about their own mean), the final mean is at most (S_k + (m - k) B) / m
(B: the best return an episode can have) and the final sum of squared deviations is at least
SS_k (a subset's squared deviations about its own mean never exceed its share of the whole's),
so the final lower bound is at most

    (S_k + (m - k) B - margin_se * sqrt(m / (m - 1)) * sqrt(SS_k)) / m.

Play stops after the first episode that puts this below T: such a check can no longer pass, so
stopping changes no decision. The margin term is shrunk by a relative 1e-9 so rounding can only
delay a stop, never cause one; with ``margin_se = 0`` the test is exactly S_k + (m - k) B < T m.

``play_until_out_of_reach`` plays the episodes one at a time on the calling thread (it stops after
the first hopeless episode); ``play_chunks_until_out_of_reach`` plays ``chunk`` episodes at a time
with the parallel ``play_batch`` kernel on Numba's threads and then adds their returns in episode
order with the same test after each: it stops after the same episode, with the same returns, for
any ``chunk`` and thread count (at most ``chunk - 1`` further episodes are played and discarded).
(A ``prange`` nested in this loop compiled, but ran on one thread.) Both write lengths[i] and
returns[i] of the episodes played and return how many count; they are two kernels so that a
one-thread run never compiles the parallel one.
"""

from __future__ import annotations

import math

from .._jit import njit
from ._rollout import episode_play, play_batch


@njit(inline="always")
def _rule(m, threshold, margin_se):
    """(the total return the m episodes must reach, the margin's factor on sqrt(SS)), see the module doc."""
    spread = margin_se * math.sqrt(m / (m - 1.0)) * (1.0 - 1e-9) if m > 1 else 0.0
    return threshold * m, spread


@njit(inline="always")
def _add(i, value, total, mean, squares):
    """Episode i's return added to the running total, mean and sum of squared deviations (Welford)."""
    delta = value - mean
    mean += delta / (i + 1)
    return total + value, mean, squares + delta * (value - mean)


@njit(inline="always")
def _out_of_reach(i, m, total, squares, best_return, spread, min_total):
    """True once the first i + 1 episodes leave the check no way to pass."""
    bound = total + (m - 1 - i) * best_return
    if spread > 0.0:
        bound -= spread * math.sqrt(squares)
    return bound < min_total


@njit
def play_until_out_of_reach(theta, states0, key, params, greedy, threshold, margin_se, best_return, rng, lengths,
                            returns):
    m = states0.shape[0]
    min_total, spread = _rule(m, threshold, margin_se)
    total, mean, squares = 0.0, 0.0, 0.0
    for i in range(m):
        lengths[i], returns[i] = episode_play(theta, states0[i], key, i, params, greedy, rng[i])
        total, mean, squares = _add(i, returns[i], total, mean, squares)
        if _out_of_reach(i, m, total, squares, best_return, spread, min_total):
            return i + 1
    return m


@njit
def play_chunks_until_out_of_reach(theta, states0, key, params, greedy, threshold, margin_se, best_return, chunk, rng,
                                   lengths, returns):
    m = states0.shape[0]
    min_total, spread = _rule(m, threshold, margin_se)
    total, mean, squares = 0.0, 0.0, 0.0
    for first in range(0, m, chunk):
        last = min(first + chunk, m)
        play_batch(theta, states0[first:last], key, first, params, greedy, rng[first:last], lengths[first:last],
                   returns[first:last])
        for i in range(first, last):
            total, mean, squares = _add(i, returns[i], total, mean, squares)
            if _out_of_reach(i, m, total, squares, best_return, spread, min_total):
                return i + 1
    return m
