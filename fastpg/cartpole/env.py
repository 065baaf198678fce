"""``fastpg/CartPole-v1``: a Gymnasium ``Env`` over the exact Numba kernels."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control import utils
from gymnasium.error import ResetNeeded

from ..errors import InvalidActionError
from .kernels import cartpole_step
from .spec import INTEGRATORS, CartPoleParams, make_params

_RESET_OPTIONS = frozenset({"low", "high"})


def observation_space(params: CartPoleParams) -> spaces.Box:
    """Gymnasium's CartPole observation box: ±2·x_threshold, ±inf, ±2·theta_threshold, ±inf (float32)."""
    high = np.array(
        [params.x_threshold * 2, np.inf, params.theta_threshold_radians * 2, np.inf], dtype=np.float32
    )
    return spaces.Box(-high, high, dtype=np.float32)


def check_action(action: Any) -> int:
    """Return ``action`` as an int if ``Discrete(2)`` contains it, else raise ``InvalidActionError``."""
    if isinstance(action, (int, np.integer)) or (
        isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer)
    ):
        value = int(action)
        if value in (0, 1):
            return value
    raise InvalidActionError(f"{action!r} ({type(action)}) invalid: CartPole actions are 0 (left) or 1 (right)")


def reset_bounds(options: dict | None) -> tuple[float, float]:
    """``(low, high)`` for the initial-state uniform draw, validated; Gymnasium's default ±0.05."""
    if options is not None:
        unknown = set(options) - _RESET_OPTIONS
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; CartPole accepts {sorted(_RESET_OPTIONS)}")
    low, high = utils.maybe_parse_reset_bounds(options, -0.05, 0.05)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"reset bounds must be finite, got low={low!r}, high={high!r}")
    return low, high


class CartPoleEnv(gym.Env[np.ndarray, int]):
    """Gymnasium's CartPole, stepped by fastpg's exact kernel.

    Observations, rewards and termination are bit-identical to
    ``gymnasium.make("CartPole-v1")``; truncation comes from the ``TimeLimit``
    wrapper that ``gymnasium.make`` adds (500 steps for v1, 200 for v0).
    The state is float64[4] (x [m], x_dot [m/s], theta [rad], theta_dot [rad/s]);
    observations are that state rounded to float32.

    Differences from Gymnasium, all on misuse: stepping before ``reset`` or after
    termination raises ``gymnasium.error.ResetNeeded`` (Gymnasium warns and goes on),
    an invalid action raises :class:`InvalidActionError`, unknown reset options raise
    ``ValueError``.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 50}

    def __init__(
        self,
        sutton_barto_reward: bool = False,
        render_mode: str | None = None,
        kinematics_integrator: str = "euler",
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.params = make_params(kinematics_integrator=kinematics_integrator, sutton_barto_reward=sutton_barto_reward)
        self._params_array = self.params.as_array()
        self._step_reward = 0.0 if sutton_barto_reward else 1.0
        self._final_reward = -1.0 if sutton_barto_reward else 1.0
        self.action_space = spaces.Discrete(2)
        self.observation_space = observation_space(self.params)
        self.render_mode = render_mode
        self._renderer: gym.Env | None = None
        self.state = np.zeros(4, dtype=np.float64)
        self._needs_reset = True

    @property
    def kinematics_integrator(self) -> str:
        """``"euler"`` (Gymnasium's default) or ``"semi-implicit euler"``; settable as on Gymnasium's env."""
        return next(name for name, code in INTEGRATORS.items() if code == self.params.integrator)

    @kinematics_integrator.setter
    def kinematics_integrator(self, name: str) -> None:
        if name not in INTEGRATORS:
            raise ValueError(f"unknown kinematics_integrator {name!r}; expected one of {sorted(INTEGRATORS)}")
        self.params = self.params._replace(integrator=INTEGRATORS[name])
        self._params_array = self.params.as_array()

    def step(self, action):
        """Advance 0.02 s. Returns ``(obs float32[4], reward, terminated, False, {})``."""
        if action.__class__ is not int or (action != 0 and action != 1):
            action = check_action(action)
        if self._needs_reset:
            raise ResetNeeded("Cannot call step() before reset() or after the episode terminated; call reset().")
        obs = np.empty(4, dtype=np.float32)
        if cartpole_step(self.state, action, self._params_array, obs):
            self._needs_reset = True
            reward = self._final_reward
            terminated = True
        else:
            reward = self._step_reward
            terminated = False
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw the initial state uniformly in ``[low, high)^4`` (default ±0.05) from ``np_random``."""
        super().reset(seed=seed)
        low, high = reset_bounds(options)
        self.state = self.np_random.uniform(low=low, high=high, size=(4,))
        self._needs_reset = False
        if self.render_mode == "human":
            self.render()
        return self.state.astype(np.float32), {}

    def render(self):
        """Draw with Gymnasium's own CartPole renderer (needs pygame: ``pip install fastpg[render]``)."""
        if self.render_mode is None:
            gym.logger.warn("You are calling render method without specifying any render mode.")
            return None
        if self._renderer is None:
            from gymnasium.envs.classic_control.cartpole import CartPoleEnv as GymCartPole

            self._renderer = GymCartPole(render_mode=self.render_mode)
        self._renderer.state = self.state.copy()
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
