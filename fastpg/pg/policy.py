"""The logistic policy's decision rule in NumPy and plain Python: the one owner outside the kernels.

For parameters θ = (w0, w1, w2, w3[, b]) and an observation s (Gymnasium's float32 observation):

    z = ((((0 + w0 s0) + w1 s1) + w2 s2) + w3 s3) + b      (left to right; no "+ b" without a bias)
    P(left) = 1 / (1 + exp(-z));  sampled: action 0 (push left) iff u < P(left), u ~ U[0, 1)
    greedy: action 0 iff z >= 0, else action 1 (push right)

In float64 (the policy's precision) these functions are bit-identical to the Numba kernels of
``fastpg.pg._policy`` (a test holds them together); ``dtype="float32"`` evaluates the same rule
in float32, as a C ``float`` controller does. ``exp`` is the C library's (``math.exp``, as the
kernels and C programs call it), not NumPy's SIMD exp, which can differ in the last bit.
"""

from __future__ import annotations

import math

import numpy as np

from ..validate import real_array


def logit(theta: np.ndarray, observations, dtype: str = "float64") -> np.ndarray:
    """z for observations float[..., 4] (rounded to float32 first, as Gymnasium's are), in ``dtype``: shape [...].

    ``theta`` float[4] or [5] (bias last) is converted to ``dtype`` (round θ yourself if it must fit).
    """
    s = real_array("observations", observations, np.float32).astype(dtype)
    if s.shape[-1:] != (4,):
        raise ValueError(f"observations must have 4 values in their last axis, got shape {s.shape}")
    w = np.asarray(theta).astype(dtype)
    z = np.zeros(s.shape[:-1], dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # inf or nan for absurd θ, as in the kernels and in C
        for k in range(4):
            z = z + w[k] * s[..., k]
        return z + w[4] if w.shape[0] == 5 else z


def libm_exp(x) -> np.ndarray:
    """exp of float64[...] by the C library (``math.exp``); inf where it overflows."""
    def exp(v: float) -> float:
        try:
            return math.exp(v)
        except OverflowError:
            return math.inf

    x = np.asarray(x, dtype=np.float64)
    return np.array([exp(v) for v in x.ravel().tolist()]).reshape(x.shape)


def p_left(z: np.ndarray) -> np.ndarray:
    """P(action 0 = push left) = 1 / (1 + exp(-z)) in z's dtype (0.0 where exp(-z) overflows)."""
    z = np.asarray(z)
    with np.errstate(over="ignore"):
        e = libm_exp(-z.astype(np.float64)).astype(z.dtype)
    return z.dtype.type(1) / (z.dtype.type(1) + e)


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log P(left) = log(1 / (1 + exp(-z))), float64[...], stable for any finite z."""
    return -np.logaddexp(0.0, -z)


def greedy_action(z: np.ndarray) -> np.ndarray:
    """The greedy action, int64[...]: 0 (push left) iff z >= 0, else 1 (push right)."""
    return np.where(np.asarray(z) >= 0.0, 0, 1)


def logit_scalar(weights: list[float], bias: float | None, observation: list[float]) -> float:
    """z of one observation in plain Python floats (``weights`` 4 floats, ``observation`` its float32 values)."""
    z = 0.0
    for w, s in zip(weights, observation):
        z += w * s
    return z if bias is None else z + bias


def sigmoid_scalar(z: float) -> float:
    """The kernels' 1 / (1 + exp(-z)) on a Python float; 0.0 where exp(-z) overflows."""
    try:
        return 1.0 / (1.0 + math.exp(-z))
    except OverflowError:
        return 0.0


def act_scalar(z: float, u: float, greedy: bool) -> int:
    """Action 0 (push left) or 1 (push right) for logit ``z``: greedy, or sampled with the uniform ``u``."""
    left = z >= 0.0 if greedy else u < sigmoid_scalar(z)
    return 0 if left else 1
