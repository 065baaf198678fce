"""``fastpg/CartPole-v1``: a Gymnasium ``Env`` over the exact Numba kernels."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import logger, spaces
from gymnasium.envs.classic_control import utils
from gymnasium.error import ResetNeeded

from ..errors import InvalidActionError
from .kernels import cartpole_step
from .spec import (
    ANGLE_THRESHOLD, FORCE_MAG, GRAVITY, INTEGRATOR, INTEGRATORS, LENGTH, MASSCART, MASSPOLE, MAX_EPISODE_STEPS,
    POLEMASS_LENGTH, RESET_HIGH, RESET_LOW, SUTTON_BARTO_REWARD, TAU, TOTAL_MASS, X_THRESHOLD, CartPoleParams,
    make_params,
)

_RESET_OPTIONS = frozenset({"low", "high"})

# Gymnasium's attribute names of the physical constants -> their index in ``CartPoleParams.as_array()``.
CONSTANTS = {
    "gravity": GRAVITY, "masscart": MASSCART, "masspole": MASSPOLE, "total_mass": TOTAL_MASS, "length": LENGTH,
    "polemass_length": POLEMASS_LENGTH, "force_mag": FORCE_MAG, "tau": TAU,
    "theta_threshold_radians": ANGLE_THRESHOLD, "x_threshold": X_THRESHOLD,
}
_PLAIN_INT = 2**53  # ints up to this magnitude convert to float64 exactly


def is_plain(value: Any) -> bool:
    """True if Gymnasium's arithmetic on ``value`` is float64 arithmetic on ``float(value)``.

    That holds for a Python float, a ``np.float64`` and a Python int of at most 2**53 in magnitude;
    for anything else (a float32, an array, a bool...) the envs run Gymnasium's own NumPy code.
    """
    kind = value.__class__
    return kind is float or kind is np.float64 or (kind is int and -_PLAIN_INT <= value <= _PLAIN_INT)


def initial_constants(params: CartPoleParams) -> dict[str, Any]:
    """The constants as Gymnasium's ``__init__`` sets them (``total_mass`` and ``polemass_length`` computed once)."""
    return {name: getattr(params, name) for name in CONSTANTS}


class Constant:
    """A physical constant under Gymnasium's attribute name.

    Reads return the value as it was set; a write takes effect from the next step, exactly as on
    Gymnasium's env (``total_mass`` and ``polemass_length`` are not recomputed from the masses,
    as Gymnasium computes them only in ``__init__``).
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, env: Any, owner: type | None = None) -> Any:
        if env is None:
            return self
        return env._constants[self.name]

    def __set__(self, env: Any, value: Any) -> None:
        env._constants[self.name] = value
        env._constants_changed()


def gymnasium_dynamics(c: dict[str, Any], force: Any, x: Any, x_dot: Any, theta: Any, theta_dot: Any):
    """Gymnasium's CartPole equations, operation for operation, in NumPy on the values as given.

    ``c`` maps Gymnasium's constant names (and ``kinematics_integrator``) to their values. The envs
    use this instead of the kernels only when a state or a constant was set to something other than
    plain float64 numbers (a float32 array, a per-env array...), so that such values give the very
    numbers (and dtypes) Gymnasium's env gives.
    """
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    temp = (force + c["polemass_length"] * np.square(theta_dot) * sintheta) / c["total_mass"]
    thetaacc = (c["gravity"] * sintheta - costheta * temp) / (
        c["length"] * (4.0 / 3.0 - c["masspole"] * np.square(costheta) / c["total_mass"])
    )
    xacc = temp - c["polemass_length"] * thetaacc * costheta / c["total_mass"]
    tau = c["tau"]
    if c["kinematics_integrator"] == "euler":
        x = x + tau * x_dot
        x_dot = x_dot + tau * xacc
        theta = theta + tau * theta_dot
        theta_dot = theta_dot + tau * thetaacc
    else:  # semi-implicit euler
        x_dot = x_dot + tau * xacc
        x = x + tau * x_dot
        theta_dot = theta_dot + tau * thetaacc
        theta = theta + tau * theta_dot
    return x, x_dot, theta, theta_dot


def integrator_code(name: Any) -> int:
    """The kernels' code of an integrator name; ``ValueError`` for a name Gymnasium does not define."""
    if not isinstance(name, str) or name not in INTEGRATORS:
        raise ValueError(f"unknown kinematics_integrator {name!r}; expected one of {sorted(INTEGRATORS)}")
    return INTEGRATORS[name]


class PhysicsAttributes:
    """Gymnasium's attributes of the physics, shared by the env and the vector env.

    Each constant's value as set lives in ``_constants``; ``_params_array`` is what the kernels
    read, rebuilt on every write; ``_slow`` is set while some value is not plain float64 (see
    :func:`is_plain`), and the env then steps with :func:`gymnasium_dynamics`.
    """

    gravity = Constant()
    masscart = Constant()
    masspole = Constant()
    total_mass = Constant()
    length = Constant()
    polemass_length = Constant()
    force_mag = Constant()
    tau = Constant()
    theta_threshold_radians = Constant()
    x_threshold = Constant()

    _constants: dict[str, Any]
    _params_array: np.ndarray
    _slow: bool

    def _init_physics(self, params: CartPoleParams, integrator: str, **extra: Any) -> None:
        self._params_array = params.as_array()
        self._constants = {**initial_constants(params), **extra, "kinematics_integrator": integrator}
        self._constants_changed()

    def _constants_changed(self) -> None:
        array, slow = self._params_array, False
        for name, value in self._constants.items():
            if name == "kinematics_integrator":
                continue
            if not is_plain(value):
                slow = True
                if not isinstance(value, (int, float, np.integer, np.floating)):
                    continue  # e.g. a per-env array: only Gymnasium's arithmetic uses it
            array[self._index(name)] = float(value)  # for a non-plain scalar, only what ``params`` shows
        self._slow = slow

    @staticmethod
    def _index(name: str) -> int:
        return MAX_EPISODE_STEPS if name == "max_episode_steps" else CONSTANTS[name]

    @property
    def kinematics_integrator(self) -> str:
        """``"euler"`` (Gymnasium's default) or ``"semi-implicit euler"``; settable as on Gymnasium's env.

        Gymnasium takes any other value for semi-implicit Euler; fastpg raises ``ValueError``, so a
        misspelt name cannot silently select the other integrator.
        """
        return self._constants["kinematics_integrator"]

    @kinematics_integrator.setter
    def kinematics_integrator(self, name: str) -> None:
        self._params_array[INTEGRATOR] = integrator_code(name)
        self._constants["kinematics_integrator"] = name

    @property
    def _sutton_barto_reward(self) -> bool:
        """Gymnasium's (private) reward flag: 0 per step and -1 on termination when true."""
        return bool(self._params_array[SUTTON_BARTO_REWARD] != 0.0)

    @_sutton_barto_reward.setter
    def _sutton_barto_reward(self, value: bool) -> None:
        self._params_array[SUTTON_BARTO_REWARD] = float(bool(value))
        self._rewards_changed()

    def _rewards_changed(self) -> None:
        pass

    @property
    def params(self) -> CartPoleParams:
        """The constants as floats in a ``CartPoleParams`` (what the kernels step with); read-only: set the attributes.

        While some constant is not a plain float (see :func:`is_plain`), steps use the attribute
        values themselves, and a per-env array of values shows here as the last scalar value.
        """
        values = [float(v) for v in self._params_array]
        values[INTEGRATOR] = int(values[INTEGRATOR])
        values[SUTTON_BARTO_REWARD] = bool(values[SUTTON_BARTO_REWARD])
        steps = values[MAX_EPISODE_STEPS]
        values[MAX_EPISODE_STEPS] = int(steps) if steps.is_integer() else steps
        return CartPoleParams._make(values)


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
    low, high = utils.maybe_parse_reset_bounds(options, RESET_LOW, RESET_HIGH)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"reset bounds must be finite, got low={low!r}, high={high!r}")
    return low, high


class CartPoleEnv(PhysicsAttributes, gym.Env[np.ndarray, int]):
    """Gymnasium's CartPole, stepped by fastpg's exact kernel.

    Observations, rewards and termination are bit-identical to
    ``gymnasium.make("CartPole-v1")``; truncation comes from the ``TimeLimit``
    wrapper that ``gymnasium.make`` adds (500 steps for v1, 200 for v0).
    The state is float64[4] (x [m], x_dot [m/s], theta [rad], theta_dot [rad/s]);
    observations are that state rounded to float32.

    Gymnasium's attributes are there and behave as Gymnasium's: ``state`` (a new array after
    every step; what is assigned to it is what the next step starts from), the physical
    constants (``gravity``, ``masscart``, ``masspole``, ``total_mass``, ``length``,
    ``polemass_length``, ``force_mag``, ``tau``, ``theta_threshold_radians``, ``x_threshold``),
    ``kinematics_integrator`` and ``steps_beyond_terminated``; a constant set takes effect from
    the next step.

    Differences from Gymnasium, all on misuse: stepping before ``reset`` or after
    termination raises ``gymnasium.error.ResetNeeded`` (Gymnasium warns and goes on;
    assigning ``state`` makes the env steppable again, as restoring a saved state needs),
    an invalid action raises :class:`InvalidActionError`, unknown reset options and an
    unknown ``kinematics_integrator`` raise ``ValueError``.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 50}

    def __init__(
        self,
        sutton_barto_reward: bool = False,
        render_mode: str | None = None,
        kinematics_integrator: str = "euler",
    ):
        params = make_params(kinematics_integrator=kinematics_integrator, sutton_barto_reward=sutton_barto_reward)
        self._init_physics(params, kinematics_integrator)
        self._rewards_changed()
        self.action_space = spaces.Discrete(2)
        self.observation_space = observation_space(params)
        # Like Gymnasium's CartPole, any render_mode is accepted (gymnasium.make warns about unknown ones).
        self.render_mode = render_mode
        self._renderer: gym.Env | None = None
        self._state = np.zeros(4, dtype=np.float64)  # the kernels' buffer, stepped in place, never handed out
        self._state_obj: Any = None  # what ``state`` is until the next step (None: not made yet)
        self._has_state = False
        self._needs_reset = True
        self.steps_beyond_terminated: int | None = None

    def _rewards_changed(self) -> None:
        sutton_barto = self._sutton_barto_reward
        self._step_reward = 0.0 if sutton_barto else 1.0
        self._final_reward = -1.0 if sutton_barto else 1.0

    @property
    def state(self) -> Any:
        """float64[4] ``(x, x_dot, theta, theta_dot)``, or ``None`` before the first reset.

        As on Gymnasium's env, every step replaces it with a new array, so a reference kept
        (``saved = env.unwrapped.state``) keeps its values, and what is assigned (an array of any
        numeric dtype, a tuple, a list) is what the next step starts from, changes made to it in
        place before that step included.
        """
        obj = self._state_obj
        if obj is None and self._has_state:
            obj = self._state_obj = self._state.copy()
        return obj

    @state.setter
    def state(self, value: Any) -> None:
        self._state_obj = value
        self._has_state = value is not None
        self._needs_reset = value is None

    def step(self, action):
        """Advance 0.02 s. Returns ``(obs float32[4], reward, terminated, False, {})``."""
        if action.__class__ is not int or (action != 0 and action != 1):
            action = check_action(action)
        if self._needs_reset:
            raise ResetNeeded("Cannot call step() before reset() or after the episode terminated; call reset().")
        if self._state_obj is None and not self._slow:
            obs = np.empty(4, dtype=np.float32)
            terminated = cartpole_step(self._state, action, self._params_array, obs)
        else:
            obs, terminated = self._step_from_attributes(action)
        if terminated:
            self._needs_reset = True
            reward = self._terminal_reward()
        else:
            reward = self._step_reward
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, {}

    def _terminal_reward(self) -> float:
        """The reward of a terminating step, with Gymnasium's ``steps_beyond_terminated`` bookkeeping."""
        if self.steps_beyond_terminated is None:
            self.steps_beyond_terminated = 0
            return self._final_reward
        # Only reachable by assigning ``state`` after termination: Gymnasium's env then says this.
        if self.steps_beyond_terminated == 0:
            logger.warn(
                "You are calling 'step()' even though this environment has already returned terminated = True. "
                "You should always call 'reset()' once you receive 'terminated = True' -- any further steps are "
                "undefined behavior."
            )
        self.steps_beyond_terminated += 1
        return -1.0 if self._sutton_barto_reward else 0.0

    def _step_from_attributes(self, action: int) -> tuple[np.ndarray, bool]:
        """A step after ``state`` was read or assigned, or while a constant is not plain float64.

        A float64[4] array or a tuple/list of four floats is copied into the kernels' buffer and
        stepped by the kernel; any other state (float32 or int values...) or constant is stepped
        with Gymnasium's own NumPy arithmetic, so that it gives Gymnasium's numbers.
        """
        state = self._state_obj
        if not self._slow and (state is None or self._load(state)):
            self._state_obj = None
            obs = np.empty(4, dtype=np.float32)
            return obs, cartpole_step(self._state, action, self._params_array, obs)
        c = self._constants
        x, x_dot, theta, theta_dot = self.state
        force = c["force_mag"] if action == 1 else -c["force_mag"]
        x, x_dot, theta, theta_dot = gymnasium_dynamics(c, force, x, x_dot, theta, theta_dot)
        self._state_obj = np.array((x, x_dot, theta, theta_dot), dtype=np.float64)
        terminated = bool(
            x < -c["x_threshold"]
            or x > c["x_threshold"]
            or theta < -c["theta_threshold_radians"]
            or theta > c["theta_threshold_radians"]
        )
        return np.array(self._state_obj, dtype=np.float32), terminated

    def _load(self, state: Any) -> bool:
        """Copy ``state`` into the buffer if the kernel steps it as Gymnasium would; else False."""
        if state.__class__ is np.ndarray:
            if state.dtype != np.float64 or state.shape != (4,):
                return False
        elif state.__class__ not in (tuple, list) or len(state) != 4 or not all(
            v.__class__ is float or v.__class__ is np.float64 for v in state
        ):
            return False
        self._state[:] = state
        return True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw the initial state uniformly in ``[low, high)^4`` (default ±0.05) from ``np_random``."""
        super().reset(seed=seed)
        low, high = reset_bounds(options)
        self._state = self.np_random.uniform(low=low, high=high, size=(4,))
        self._state_obj = None
        self._has_state = True
        self._needs_reset = False
        self.steps_beyond_terminated = None
        if self.render_mode == "human":
            self.render()
        return self._state.astype(np.float32), {}

    def render(self):
        """Draw with Gymnasium's own CartPole renderer (needs pygame: ``pip install fastpg[render]``)."""
        if self.render_mode is None:
            env_id = self.spec.id if self.spec is not None else "fastpg/CartPole-v1"
            gym.logger.warn(
                "You are calling render method without specifying any render mode. "
                "You can specify the render_mode at initialization, "
                f'e.g. gym.make("{env_id}", render_mode="rgb_array")'
            )
            return None
        if self._renderer is None:
            from gymnasium.envs.classic_control.cartpole import CartPoleEnv as GymCartPole

            self._renderer = GymCartPole(render_mode=self.render_mode)
        renderer = self._renderer
        renderer.state, renderer.x_threshold, renderer.length = self.state, self.x_threshold, self.length
        return renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
