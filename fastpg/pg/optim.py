"""Gradient-ascent update rules on a small float64 parameter vector: SGD and Adam, with schedules.

Optimizer state is plain arrays and ints so it checkpoints exactly (``state_dict``).
"""

from __future__ import annotations

import math

import numpy as np


def learning_rate(base: float, schedule: str, final_fraction: float, progress: float) -> float:
    """Learning rate at ``progress`` in [0, 1] of the episode budget.

    ``constant``: ``base``; ``linear``: from ``base`` to ``base * final_fraction``;
    ``exponential``: geometric interpolation between the same two values.
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return base
    if schedule == "linear":
        return base * (1.0 - progress * (1.0 - final_fraction))
    if schedule == "exponential":
        return base * math.pow(final_fraction, progress)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")


class SGD:
    """Plain gradient ascent: theta += lr * g."""

    def __init__(self, dim: int):
        self.dim = dim

    def step(self, grad: np.ndarray, lr: float) -> np.ndarray:
        """The ascent step for gradient ``grad`` (float64[dim])."""
        return lr * grad

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError("SGD has no state to load")


class Adam:
    """Adam (Kingma & Ba, 2015) for ascent: theta += lr * m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, dim: int, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = np.zeros(dim)
        self.v = np.zeros(dim)
        self.t = 0

    def step(self, grad: np.ndarray, lr: float) -> np.ndarray:
        """The ascent step for gradient ``grad`` (float64[dim]); advances the moment estimates."""
        self.t += 1
        self.m = self.beta1 * self.m + (1.0 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1.0 - self.beta2) * grad * grad
        m_hat = self.m / (1.0 - self.beta1**self.t)
        v_hat = self.v / (1.0 - self.beta2**self.t)
        return lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def state_dict(self) -> dict:
        return {"m": self.m.tolist(), "v": self.v.tolist(), "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        m, v = np.asarray(state["m"], dtype=np.float64), np.asarray(state["v"], dtype=np.float64)
        t = state["t"]
        if m.shape != self.m.shape or v.shape != self.v.shape or isinstance(t, bool) or not isinstance(t, int):
            raise ValueError("Adam state does not match this parameter vector")
        if t < 0 or not (np.isfinite(m).all() and np.isfinite(v).all() and (v >= 0).all()):
            raise ValueError("Adam state must have t >= 0, finite moments and v >= 0")
        self.m, self.v, self.t = m, v, state["t"]
