"""``gymnasium.make_vec("fastpg/CartPole-v1", vectorization_mode="vector_entry_point")``."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import logger, spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..errors import InvalidActionError
from ._vector import actions_valid, vector_reset_rows, vector_step
from .env import Constant, PhysicsAttributes, gymnasium_dynamics, observation_space, reset_bounds
from .spec import RESET_HIGH, RESET_LOW, make_params


def _reset_mask(options: dict, num_envs: int) -> np.ndarray:
    """``options["reset_mask"]`` validated as ``SyncVectorEnv`` validates it."""
    mask = options["reset_mask"]
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"`options['reset_mask']` must be a numpy array, got {type(mask)}")
    if mask.shape != (num_envs,):
        raise ValueError(f"`options['reset_mask']` must have shape `({num_envs},)`, got {mask.shape}")
    if mask.dtype != np.bool_:
        raise ValueError(f"`options['reset_mask']` must have `dtype=np.bool_`, got {mask.dtype}")
    if not mask.any():
        raise ValueError(f"`options['reset_mask']` must contain a boolean array with at least one True value, got reset_mask={mask}")
    return np.ascontiguousarray(mask)


def parse_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """An ``AutoresetMode``, from itself, its value ("NextStep") or its name in any case ("next_step")."""
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, str):
        key = mode.replace("-", "_").replace(" ", "_").lower()
        for candidate in AutoresetMode:
            if key in (candidate.name.lower(), candidate.value.lower()):
                return candidate
    raise ValueError(f"unknown autoreset_mode {mode!r}; expected one of {[m.name.lower() for m in AutoresetMode]}")


class CartPoleVectorEnv(PhysicsAttributes, VectorEnv):
    """N CartPole-v1 envs stepped by one Numba kernel call, bit-identical to Gymnasium's ``CartPoleVectorEnv``.

    Observations float32[N, 4], rewards float32[N], terminated/truncated bool[N], as Gymnasium.
    All envs share the vector env's ``np_random``; every draw has Gymnasium's call shape:
    ``reset`` draws ``uniform(low, high, size=(4, N))`` (env j gets column j), and each
    autoreset of k envs draws ``uniform(low, high, size=(4, k))`` (the j-th of them in index
    order gets column j).

    Gymnasium's attributes are there and behave as Gymnasium's: ``state`` (float64[4, N], a new
    array after every step; what is assigned to it is what the next step starts from), ``steps``,
    ``prev_done``, ``low``/``high``, ``steps_beyond_terminated``, the physical constants and
    ``max_episode_steps`` and ``kinematics_integrator`` (a value set takes effect from the next
    step; a per-env array of values, or a float32 state, is stepped with Gymnasium's own NumPy
    arithmetic, at NumPy's speed).

    ``autoreset_mode``:
    - ``NEXT_STEP`` (default, Gymnasium's): the step after an env finishes resets it, returning
      its reset observation with reward 0 and no flags. Bit-identical to Gymnasium.
    - ``SAME_STEP``: an env that finishes is reset in the same step; the returned observation is
      the reset one and ``infos["final_obs"]`` / ``infos["final_info"]`` (with ``_final_obs`` /
      ``_final_info`` masks) hold the last one, in ``SyncVectorEnv``'s format.
    - ``DISABLED``: no autoreset; reset finished envs with ``reset(options={"reset_mask": mask})``.
      Stepping while an env is finished raises ``gymnasium.error.ResetNeeded``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50, "autoreset_mode": AutoresetMode.NEXT_STEP}

    max_episode_steps = Constant()

    def __init__(self, num_envs: int = 1, max_episode_steps: int = 500, render_mode: str | None = None,
                 sutton_barto_reward: bool = False, kinematics_integrator: str = "euler",
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.autoreset_mode = parse_autoreset_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        params = make_params(kinematics_integrator=kinematics_integrator,
                             sutton_barto_reward=sutton_barto_reward, max_episode_steps=max_episode_steps)
        self._init_physics(params, kinematics_integrator, max_episode_steps=max_episode_steps)
        # Like Gymnasium's CartPoleVectorEnv, any render_mode is accepted; render() returns every env's frame.
        self.num_envs, self.render_mode = num_envs, render_mode
        self.single_action_space = spaces.Discrete(2)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = observation_space(params)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.low, self.high = RESET_LOW, RESET_HIGH
        self.steps_beyond_terminated = None
        self._states = np.zeros((num_envs, 4))  # float64[N, 4]: the kernels' buffer, never handed out
        self._state_obj: Any = None  # what ``state`` is until the next step (None: not made yet)
        self._has_state = False
        self._steps = np.zeros(num_envs, dtype=np.int32)
        self._done = np.zeros(num_envs, dtype=np.bool_)
        self._prev_done_obj: Any = None  # what ``prev_done`` is until the next step (None: not made yet)
        self._num_done = 0
        self._no_resets = np.empty((4, 0))
        self._renderer = None

    @property
    def state(self) -> Any:
        """float64[4, N] (row ``x, x_dot, theta, theta_dot``, column per env), or ``None`` before the first reset.

        As on Gymnasium's vector env, every step replaces it with a new array, so a reference kept
        keeps its values, and an array assigned (any numeric dtype, shape (4, N)) is what the next
        step starts from, changes made to it in place before that step included.
        """
        obj = self._state_obj
        if obj is None and self._has_state:
            obj = self._state_obj = self._states.T.copy()
        return obj

    @state.setter
    def state(self, value: Any) -> None:
        if value is not None:
            value = np.asarray(value)  # the same object if it is an array, as Gymnasium keeps it
            if value.shape != (4, self.num_envs) or value.dtype.kind not in "biuf":
                raise ValueError(f"state must be a numeric array of shape (4, {self.num_envs}), got "
                                 f"{value.dtype} {value.shape}")
        self._state_obj = value
        self._has_state = value is not None

    @property
    def states(self) -> np.ndarray | None:
        """The state as float64[N, 4] (env per row), a copy; ``state`` is Gymnasium's (4, N) layout."""
        state = self.state
        return None if state is None else np.array(state.T, dtype=np.float64, order="C")

    @property
    def steps(self) -> np.ndarray:
        """int32[N] episode step counters: updated in place by each step, replaced by ``reset``, as Gymnasium's."""
        return self._steps

    @steps.setter
    def steps(self, value: Any) -> None:
        steps = np.asarray(value)
        if steps.shape != (self.num_envs,) or steps.dtype.kind not in "iu":
            raise ValueError(f"steps must be an integer array of shape ({self.num_envs},), got {steps.dtype} {steps.shape}")
        if steps.dtype != np.int32 or not steps.flags.c_contiguous or not steps.flags.writeable:
            steps = np.array(steps, dtype=np.int32)
        self._steps = steps

    @property
    def prev_done(self) -> Any:
        """bool[N]: the envs that finished on the last step, which the next step resets.

        A new array after every step, as Gymnasium's; what is assigned (or changed in place) is
        what the next step goes by. With ``SAME_STEP`` it is all False after a step (finished envs
        were reset at once); with ``DISABLED`` the next step raises while any is set.
        """
        obj = self._prev_done_obj
        if obj is None:
            obj = self._prev_done_obj = self._done.copy()
        return obj

    @prev_done.setter
    def prev_done(self, value: Any) -> None:
        mask = np.asarray(value)
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
            raise ValueError(f"prev_done must be a bool array of shape ({self.num_envs},), got {mask.dtype} {mask.shape}")
        self._prev_done_obj = value

    def _load_prev_done(self) -> None:
        self._done[:] = np.asarray(self._prev_done_obj)
        self._num_done = int(self._done.sum())
        self._prev_done_obj = None

    def _load(self, state: Any) -> bool:
        """Copy ``state`` into the buffer if it is float64 (the kernels step it as Gymnasium would); else False."""
        if state.dtype != np.float64:
            return False
        self._states[:] = state.T
        return True

    def _check_actions(self, actions: Any) -> np.ndarray:
        array = np.asarray(actions) if not isinstance(actions, np.ndarray) else actions
        if array.shape != (self.num_envs,) or array.dtype.kind not in "iub":
            raise InvalidActionError(
                f"{actions!r} invalid: expected {self.num_envs} integer actions in {{0, 1}} (shape ({self.num_envs},))"
            )
        return np.ascontiguousarray(array, dtype=np.int64)

    def step(self, actions):
        """Step all envs. Returns ``(obs float32[N,4], rewards float32[N], terminated, truncated, infos)``."""
        if not self._has_state:
            raise ResetNeeded("Cannot call step() before reset().")
        if actions.__class__ is not np.ndarray or actions.dtype != np.int64 or actions.shape != (self.num_envs,) \
                or not actions.flags.c_contiguous:
            actions = self._check_actions(actions)
        if self._num_done or self._slow or self._state_obj is not None or self._prev_done_obj is not None:
            return self._step_checked(actions)
        n = self.num_envs
        obs, rewards = np.empty((n, 4), dtype=np.float32), np.empty(n, dtype=np.float32)
        terminated, truncated = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
        try:  # the kernel checks the actions before it changes anything
            self._num_done = vector_step(self._states, actions, self._steps, self._done, self._no_resets,
                                         self._params_array, obs, rewards, terminated, truncated)
        except ValueError:
            raise InvalidActionError(f"{actions!r} invalid: CartPole actions are 0 (left) or 1 (right)") from None
        if self._num_done and self.autoreset_mode is AutoresetMode.SAME_STEP:
            return obs, rewards, terminated, truncated, self._reset_finished(obs)
        return obs, rewards, terminated, truncated, {}

    def _step_checked(self, actions: np.ndarray):
        """A step that resets finished envs, or follows a change to ``state``, ``prev_done`` or a constant.

        The actions are checked first, so that a rejected step changes nothing and draws nothing.
        """
        if not actions_valid(actions):
            raise InvalidActionError(f"{actions!r} invalid: CartPole actions are 0 (left) or 1 (right)")
        if self._prev_done_obj is not None:
            self._load_prev_done()
        mode = self.autoreset_mode
        if self._num_done and mode is AutoresetMode.DISABLED:
            raise ResetNeeded(f"envs {np.flatnonzero(self._done).tolist()} have finished; reset them with "
                              "reset(options={'reset_mask': mask}) before stepping (autoreset is disabled)")
        resets = self._no_resets
        if self._num_done:  # NEXT_STEP's autoreset, or envs flagged by assigning prev_done in SAME_STEP mode
            resets = self.np_random.uniform(low=self.low, high=self.high, size=(4, self._num_done))
        state = self._state_obj
        if self._slow or (state is not None and not self._load(state)):
            obs, rewards, terminated, truncated = self._step_gymnasium(actions, resets)
        else:
            self._state_obj = None
            n = self.num_envs
            obs, rewards = np.empty((n, 4), dtype=np.float32), np.empty(n, dtype=np.float32)
            terminated, truncated = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
            self._num_done = vector_step(self._states, actions, self._steps, self._done, resets,
                                         self._params_array, obs, rewards, terminated, truncated)
        infos: dict[str, Any] = {}
        if self._num_done and mode is AutoresetMode.SAME_STEP:
            infos = self._reset_finished(obs)
        return obs, rewards, terminated, truncated, infos

    def _step_gymnasium(self, actions: np.ndarray, resets: np.ndarray):
        """Gymnasium's ``CartPoleVectorEnv.step``, operation for operation, on the state and constants as set.

        Used while the state is not float64 or a constant is not a plain float (a per-env array of
        values, a float32...): Gymnasium's NumPy code then gives the numbers (and the state's dtype).
        """
        c = self._constants
        x, x_dot, theta, theta_dot = self.state
        force = np.sign(actions - 0.5) * c["force_mag"]
        x, x_dot, theta, theta_dot = gymnasium_dynamics(c, force, x, x_dot, theta, theta_dot)
        state = np.stack((x, x_dot, theta, theta_dot))
        terminated = (
            (x < -c["x_threshold"])
            | (x > c["x_threshold"])
            | (theta < -c["theta_threshold_radians"])
            | (theta > c["theta_threshold_radians"])
        )
        steps = self._steps
        steps += 1
        truncated = steps >= c["max_episode_steps"]
        if self._sutton_barto_reward:
            rewards = -np.array(terminated, dtype=np.float32)
        else:
            rewards = np.ones_like(terminated, dtype=np.float32)
        done = self._done  # the envs to reset (prev_done), one column of ``resets`` each
        state[:, done] = resets
        steps[done] = 0
        rewards[done] = 0.0
        terminated[done] = False
        truncated[done] = False
        np.logical_or(terminated, truncated, out=done)
        self._num_done = int(done.sum())
        self._state_obj = state
        return np.ascontiguousarray(state.T, dtype=np.float32), rewards, terminated, truncated

    def _reset_envs(self, mask: np.ndarray, draws: np.ndarray, obs: np.ndarray) -> None:
        """Put ``draws`` (float64[4, k]) into the k envs flagged in ``mask``, zero their step counters
        and write their observations into ``obs``; the others are left as they are."""
        state = self._state_obj
        if state is None or self._load(state):
            self._state_obj = None
            vector_reset_rows(self._states, self._steps, mask, draws, obs)
        else:  # a state that is not float64: as Gymnasium assigns into it
            state[:, mask] = draws
            obs[mask] = state[:, mask].T
            self._steps[mask] = 0

    def _reset_finished(self, obs: np.ndarray) -> dict[str, Any]:
        """SAME_STEP: record the finished envs' last observations, then reset them in ``obs``."""
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(self._done):
            infos = self._add_info(infos, {"final_obs": obs[i].copy(), "final_info": {}}, int(i))
        resets = self.np_random.uniform(low=self.low, high=self.high, size=(4, self._num_done))
        self._reset_envs(self._done, resets, obs)
        self._done[:] = False
        self._num_done = 0
        return infos

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset all envs, or those in ``options["reset_mask"]``; ``low``/``high`` bound the uniform draw.

        Gymnasium's ``CartPoleVectorEnv`` ignores ``reset_mask`` and resets every env; fastpg resets
        only the masked envs (drawing ``(4, k)``), as ``SyncVectorEnv`` does.
        """
        super().reset(seed=seed)
        options = dict(options or {})
        mask = _reset_mask(options, self.num_envs) if "reset_mask" in options else None
        options.pop("reset_mask", None)
        self.low, self.high = reset_bounds(options or None)
        self.steps_beyond_terminated = None
        if mask is None or not self._has_state:
            if mask is not None:
                raise ResetNeeded("reset with a reset_mask needs a full reset() first")
            draws = self.np_random.uniform(low=self.low, high=self.high, size=(4, self.num_envs))
            self._states = np.ascontiguousarray(draws.T)
            self._state_obj, self._has_state = None, True
            self._steps = np.zeros(self.num_envs, dtype=np.int32)  # new arrays, as Gymnasium's reset makes
            self._done = np.zeros(self.num_envs, dtype=np.bool_)
            self._prev_done_obj = None
            self._num_done = 0
            return self._states.astype(np.float32), {}
        if self._prev_done_obj is not None:
            self._load_prev_done()
        draws = self.np_random.uniform(low=self.low, high=self.high, size=(4, int(mask.sum())))
        obs = np.ascontiguousarray(self.state.T, dtype=np.float32)
        self._reset_envs(mask, draws, obs)
        self._done[mask] = False
        self._num_done = int(self._done.sum())
        return obs, {}

    def render(self):
        """Frames of every env, drawn by Gymnasium's own vector renderer (needs pygame), for any ``render_mode``."""
        if self.render_mode is None:
            env_id = self.spec.id if self.spec is not None else "fastpg/CartPole-v1"
            logger.warn(
                "You are calling render method without specifying any render mode. "
                "You can specify the render_mode at initialization, "
                f'e.g. gym.make_vec("{env_id}", render_mode="rgb_array")'
            )
            return None
        state = self.state
        if state is None:
            raise ValueError("Cartpole's state is None, it probably hasn't be reset yet.")
        if self._renderer is None:
            from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv as GymVector

            self._renderer = GymVector(num_envs=self.num_envs, render_mode=self.render_mode)
        renderer = self._renderer
        renderer.state, renderer.x_threshold, renderer.length = state, self.x_threshold, self.length
        return renderer.render()

    def close(self, **kwargs: Any):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close(**kwargs)
