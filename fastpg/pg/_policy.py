"""The logistic policy as Numba kernels: P(left | s) = sigmoid(theta . s + b) (the rule: ``fastpg.pg.policy``).

The policy reads the observation Gymnasium returns (the float64 state rounded to
float32), widened back to float64; an exported controller fed Gymnasium's float32
observation computes the same numbers. The dot product is summed left to right:
((theta0 s0 + theta1 s1) + theta2 s2) + theta3 s3, then + b when theta has a 5th
entry (the bias).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit
from .._rng import rng_next


@njit(inline="always")
def sigmoid(z):
    """1 / (1 + exp(-z)); exp overflows to inf for z < -709 and the result is then 0, never NaN.

    Branch-free on purpose: a branch on the sign of z is mispredicted half the time in a rollout.
    """
    return 1.0 / (1.0 + math.exp(-z))


@njit(inline="always")
def log_sigmoid(z):
    """log(sigmoid(z)), finite for any finite z (never log(0))."""
    if z >= 0.0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


@njit(inline="always")
def observe(v):
    """One observation entry as the policy reads it: ``v`` rounded to float32 (Gymnasium's dtype), widened back."""
    return np.float64(np.float32(v))


@njit(inline="always")
def policy_weights(theta):
    """theta as a tuple of 5 scalars (the bias last, 0.0 without one), read once and kept in registers."""
    return theta[0], theta[1], theta[2], theta[3], theta[4] if theta.shape[0] == 5 else 0.0


@njit(inline="always")
def weights_logit(w, bias, f0, f1, f2, f3):
    """w . f summed left to right for the features f0..f3, + w[4] when ``bias`` (w: see policy_weights)."""
    z = 0.0 + w[0] * f0 + w[1] * f1 + w[2] * f2 + w[3] * f3
    return z + w[4] if bias else z


@njit(inline="always")
def policy_act(z, greedy, s0, s1, s2, s3):
    """(True for action 0, push left; the stream's next state): greedy, left iff z >= 0 and nothing drawn;
    sampled, left iff u < sigmoid(z), u the next uniform of the xoshiro256** state s0..s3 (in registers)."""
    if greedy:
        return z >= 0.0, s0, s1, s2, s3
    u, s0, s1, s2, s3 = rng_next(s0, s1, s2, s3)
    return u < sigmoid(z), s0, s1, s2, s3
