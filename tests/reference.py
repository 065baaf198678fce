"""Slow, obviously-correct references written from Gymnasium's CartPole equations.

Plain Python floats and ``math``; nothing from fastpg. Kernels are compared
against these bit for bit.
"""

from __future__ import annotations

import math

GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4


def step(state, action, integrator="euler"):
    """One Gymnasium CartPole step: returns (new_state tuple, terminated)."""
    x, x_dot, theta, theta_dot = (float(v) for v in state)
    force = FORCE_MAG if action == 1 else -FORCE_MAG
    costheta = math.cos(theta)
    sintheta = math.sin(theta)
    # np.square(v) is v * v; Python's v**2 calls libm pow, which may differ in the last bit.
    temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS))
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    if integrator == "euler":
        x = x + TAU * x_dot
        x_dot = x_dot + TAU * xacc
        theta = theta + TAU * theta_dot
        theta_dot = theta_dot + TAU * thetaacc
    else:
        x_dot = x_dot + TAU * xacc
        x = x + TAU * x_dot
        theta_dot = theta_dot + TAU * thetaacc
        theta = theta + TAU * theta_dot
    terminated = x < -X_THRESHOLD or x > X_THRESHOLD or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD
    return (x, x_dot, theta, theta_dot), terminated


def reward(terminated, sutton_barto):
    """Reward of a step that did (or did not) terminate."""
    if sutton_barto:
        return -1.0 if terminated else 0.0
    return 1.0


class VectorReference:
    """Gymnasium's vector CartPole semantics for every autoreset mode, one env at a time in plain Python.

    ``mode`` is "next_step", "same_step" or "disabled". Random draws have Gymnasium's call shapes.
    """

    def __init__(self, num_envs, mode="next_step", sutton_barto=False, max_steps=500, integrator="euler"):
        import numpy as np

        self.np, self.n, self.mode = np, num_envs, mode
        self.sutton_barto, self.max_steps, self.integrator = sutton_barto, max_steps, integrator

    def reset(self, seed=None, mask=None):
        np = self.np
        if seed is not None:
            self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
        if mask is None:
            draws = self.rng.uniform(-0.05, 0.05, size=(4, self.n))
            self.states = [tuple(draws[:, i]) for i in range(self.n)]
            self.steps = [0] * self.n
            self.done = [False] * self.n
        else:
            draws = self.rng.uniform(-0.05, 0.05, size=(4, int(sum(mask))))
            for j, i in enumerate(i for i in range(self.n) if mask[i]):
                self.states[i], self.steps[i], self.done[i] = tuple(draws[:, j]), 0, False
        return np.array(self.states, dtype=np.float32)

    def step(self, actions):
        np = self.np
        prev_done = [i for i in range(self.n) if self.done[i]] if self.mode == "next_step" else []
        draws = self.rng.uniform(-0.05, 0.05, size=(4, len(prev_done))) if prev_done else None
        rewards, terminated, truncated, final_obs = [], [], [], {}
        for i in range(self.n):
            if i in prev_done:
                self.states[i], self.steps[i] = tuple(draws[:, prev_done.index(i)]), 0
                rewards.append(0.0)
                terminated.append(False)
                truncated.append(False)
                self.done[i] = False
                continue
            if self.done[i]:
                raise RuntimeError("reference: stepping a finished env")
            self.states[i], term = step(self.states[i], actions[i], self.integrator)
            self.steps[i] += 1
            rewards.append((-1.0 if term else -0.0) if self.sutton_barto else 1.0)
            terminated.append(term)
            truncated.append(self.steps[i] >= self.max_steps)
            self.done[i] = term or truncated[-1]
        obs = np.array(self.states, dtype=np.float32)
        finished = [i for i in range(self.n) if self.done[i]]
        if self.mode == "same_step" and finished:
            final_obs = {i: obs[i].copy() for i in finished}
            draws = self.rng.uniform(-0.05, 0.05, size=(4, len(finished)))
            for j, i in enumerate(finished):
                self.states[i], self.steps[i], self.done[i] = tuple(draws[:, j]), 0, False
            obs = np.array(self.states, dtype=np.float32)
        return (obs, np.array(rewards, dtype=np.float32), np.array(terminated), np.array(truncated), final_obs)
