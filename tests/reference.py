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
    temp = (force + POLEMASS_LENGTH * theta_dot**2 * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * costheta**2 / TOTAL_MASS))
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
