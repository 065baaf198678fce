"""CartPole physical parameters: one frozen object passed to every kernel."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

EULER = 0
SEMI_IMPLICIT_EULER = 1
INTEGRATORS = {"euler": EULER, "semi-implicit euler": SEMI_IMPLICIT_EULER}

# Indices into a state row (float64[4]) and an observation row (float32[4]).
X, X_DOT, THETA, THETA_DOT = 0, 1, 2, 3
FEATURE_NAMES = ("cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity")


# Indices into the float64 parameter vector that kernels take (``CartPoleParams.as_array()``).
# Kernels take a plain array rather than the NamedTuple: Numba types a heterogeneous
# NamedTuple argument in ~2 us per call from Python, an array in ~0.1 us.
(GRAVITY, MASSCART, MASSPOLE, TOTAL_MASS, LENGTH, POLEMASS_LENGTH, FORCE_MAG, TAU,
 THETA_THRESHOLD, X_THRESHOLD, INTEGRATOR, SUTTON_BARTO_REWARD, MAX_EPISODE_STEPS) = range(13)
NUM_PARAMS = 13


class CartPoleParams(NamedTuple):
    """Constants of Gymnasium's CartPole, computed exactly as Gymnasium computes them.

    Units are SI: metres, seconds, kilograms, newtons, radians.
    ``integrator`` is ``EULER`` (0, Gymnasium's default) or ``SEMI_IMPLICIT_EULER`` (1).
    ``sutton_barto_reward`` selects reward 0 per step and -1 on termination.
    ``max_episode_steps`` is the truncation limit (500 for v1, 200 for v0).
    """

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    total_mass: float = 0.1 + 1.0
    length: float = 0.5  # half the pole's length
    polemass_length: float = 0.1 * 0.5
    force_mag: float = 10.0
    tau: float = 0.02  # seconds between state updates
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4
    integrator: int = EULER
    sutton_barto_reward: bool = False
    max_episode_steps: int = 500

    def as_array(self) -> np.ndarray:
        """The parameters as a float64[NUM_PARAMS] vector in field order, as kernels take them."""
        return np.array([float(v) for v in self], dtype=np.float64)


def make_params(
    version: str = "v1",
    *,
    kinematics_integrator: str = "euler",
    sutton_barto_reward: bool = False,
    max_episode_steps: int | None = None,
) -> CartPoleParams:
    """Parameters of ``CartPole-v1`` (or ``-v0``) with Gymnasium's defaults.

    Raises ``ValueError`` for an unknown version or integrator, or a
    non-positive ``max_episode_steps``; ``TypeError`` for a non-bool reward flag.
    """
    limits = {"v0": 200, "v1": 500}
    if version not in limits:
        raise ValueError(f"unknown CartPole version {version!r}; expected one of {sorted(limits)}")
    if kinematics_integrator not in INTEGRATORS:
        raise ValueError(
            f"unknown kinematics_integrator {kinematics_integrator!r}; expected one of {sorted(INTEGRATORS)}"
        )
    if not isinstance(sutton_barto_reward, bool):
        raise TypeError(f"sutton_barto_reward must be a bool, got {type(sutton_barto_reward).__name__}")
    steps = limits[version] if max_episode_steps is None else max_episode_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 2**31 - 1:
        raise ValueError(f"max_episode_steps must be an int in [1, 2**31-1], got {steps!r}")
    return CartPoleParams(
        integrator=INTEGRATORS[kinematics_integrator],
        sutton_barto_reward=sutton_barto_reward,
        max_episode_steps=steps,
    )


DEFAULT_PARAMS = make_params()
