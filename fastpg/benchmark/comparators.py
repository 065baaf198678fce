"""What a Python user would write instead of fastpg: the comparators of ``fastpg bench`` and ``bench/``.

Each plays fastpg's episodes (the same initial states, the same action uniforms, the decision rule of
``fastpg.pg.policy``) and computes the reward-to-go gradient with γ = 1, so its episode lengths equal
fastpg's (the harness checks them):

- :func:`python_episode`: Gymnasium's ``CartPole-v1`` (``gym.make``, standard wrappers) stepped once per
  action, the policy and gradient in plain Python floats (``math.exp``): the fair single-episode
  comparator. Its gradient is bit-identical to fastpg's.
- :func:`vector_batch`: Gymnasium's ``CartPoleVectorEnv``, one column per episode, the policy and gradient
  vectorized in NumPy over the columns: the fair comparator for batches.
- :func:`numpy_per_step_episode`: the slow way, NumPy arrays for the 4 numbers of every step (and the
  Fisher matrix), kept to show what that costs; never a headline ratio.
"""

from __future__ import annotations

import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from ..pg.policy import act_scalar, logit, logit_scalar, sigmoid_scalar


def python_episode(env, weights: list[float], uniforms: list[float], seed=None) -> tuple[int, list[float]]:
    """One episode of ``env`` (reset with ``seed``; None continues its generator) under θ = ``weights`` (4 floats).

    Action at step t from the uniform ``uniforms[t]``. Returns (steps, reward-to-go gradient as 4 floats).
    """
    obs, _ = env.reset(seed=seed)
    score_sum, grad = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]
    t = 0
    while True:
        f = obs.tolist()
        z = logit_scalar(weights, None, f)
        p = sigmoid_scalar(z)
        action = act_scalar(z, uniforms[t], False)
        weight = (1.0 if action == 0 else 0.0) - p
        for k in range(4):
            score_sum[k] += weight * f[k]
        obs, reward, terminated, truncated, _ = env.step(action)
        for k in range(4):
            grad[k] += reward * score_sum[k]
        t += 1
        if terminated or truncated:
            return t, grad


def vector_batch(env: CartPoleVectorEnv, theta: np.ndarray, uniforms: np.ndarray,
                 states0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """m episodes from ``states0`` float64[m, 4] on ``env`` (m columns), uniforms float64[m, T].

    Steps every column until the last episode ends (finished columns are masked out). Returns
    (lengths int64[m], per-episode reward-to-go gradients float64[m, 4]).
    """
    m = states0.shape[0]
    env.reset(seed=0)
    env.state = states0.T.copy()  # fastpg's initial states
    obs = states0.astype(np.float32)
    alive = np.ones(m, dtype=bool)
    lengths, score_sum, grads = np.zeros(m, dtype=np.int64), np.zeros((m, 4)), np.zeros((m, 4))
    t = 0
    while alive.any():
        f = obs.astype(np.float64)
        p = 1.0 / (1.0 + np.exp(-logit(theta, obs)))
        left = uniforms[:, t] < p
        score_sum += np.where(alive, left - p, 0.0)[:, None] * f
        obs, rewards, terminated, truncated, _ = env.step(np.where(left, 0, 1))
        grads += np.where(alive, rewards, 0.0)[:, None] * score_sum
        lengths += alive
        alive &= ~(terminated | truncated)
        t += 1
    return lengths, grads


def numpy_per_step_episode(env, theta, uniforms, seed=None) -> tuple[int, np.ndarray, np.ndarray]:
    """:func:`python_episode` with NumPy for every step's 4 numbers, and the Fisher matrix: (steps, grad, Fisher)."""
    obs, _ = env.reset(seed=seed)
    d = theta.shape[0]
    score_sum, grad, fisher = np.zeros(d), np.zeros(d), np.zeros((d, d))
    t = 0
    while True:
        f = obs.astype(np.float64)
        p = 1.0 / (1.0 + np.exp(-logit(theta, obs)))
        left = uniforms[t] < p
        score_sum += ((1.0 if left else 0.0) - p) * f
        fisher += (p * (1.0 - p)) * np.outer(f, f)
        obs, reward, terminated, truncated, _ = env.step(0 if left else 1)
        grad += reward * score_sum
        t += 1
        if terminated or truncated:
            return t, grad, fisher
