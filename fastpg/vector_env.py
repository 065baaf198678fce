"""``gymnasium.make_vec("fastpg/CartPole-v1", vectorization_mode="vector_entry_point")``."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._vector import vector_reset_rows, vector_step
from .env import observation_space, reset_bounds
from .errors import InvalidActionError
from .params import make_params


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


class CartPoleVectorEnv(VectorEnv):
    """N CartPole-v1 envs stepped by one Numba kernel call, bit-identical to Gymnasium's ``CartPoleVectorEnv``.

    Observations float32[N, 4], rewards float32[N], terminated/truncated bool[N], as Gymnasium.
    All envs share the vector env's ``np_random``; every draw has Gymnasium's call shape:
    ``reset`` draws ``uniform(low, high, size=(4, N))`` (env j gets column j), and each
    autoreset of k envs draws ``uniform(low, high, size=(4, k))`` (the j-th of them in index
    order gets column j).

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

    def __init__(self, num_envs: int = 1, max_episode_steps: int = 500, render_mode: str | None = None,
                 sutton_barto_reward: bool = False, kinematics_integrator: str = "euler",
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.autoreset_mode = parse_autoreset_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.params = make_params(kinematics_integrator=kinematics_integrator,
                                  sutton_barto_reward=sutton_barto_reward, max_episode_steps=max_episode_steps)
        self._params_array = self.params.as_array()
        self.num_envs, self.max_episode_steps, self.render_mode = num_envs, max_episode_steps, render_mode
        self.single_action_space = spaces.Discrete(2)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = observation_space(self.params)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.low, self.high = -0.05, 0.05
        self.states: np.ndarray | None = None  # float64[N, 4]
        self._steps = np.zeros(num_envs, dtype=np.int32)
        self._done = np.zeros(num_envs, dtype=np.bool_)
        self._num_done = 0
        self._no_resets = np.empty((4, 0))
        self._renderer = None

    def _check_actions(self, actions: Any) -> np.ndarray:
        array = np.asarray(actions) if not isinstance(actions, np.ndarray) else actions
        if array.shape != (self.num_envs,) or array.dtype.kind not in "iub":
            raise InvalidActionError(
                f"{actions!r} invalid: expected {self.num_envs} integer actions in {{0, 1}} (shape ({self.num_envs},))"
            )
        return np.ascontiguousarray(array, dtype=np.int64)

    def step(self, actions):
        """Step all envs. Returns ``(obs float32[N,4], rewards float32[N], terminated, truncated, infos)``."""
        if self.states is None:
            raise ResetNeeded("Cannot call step() before reset().")
        if actions.__class__ is not np.ndarray or actions.dtype != np.int64 or actions.shape != (self.num_envs,) \
                or not actions.flags.c_contiguous:
            actions = self._check_actions(actions)
        mode = self.autoreset_mode
        if self._num_done and mode is AutoresetMode.DISABLED:
            raise ResetNeeded(f"envs {np.flatnonzero(self._done).tolist()} have finished; reset them with "
                              "reset(options={'reset_mask': mask}) before stepping (autoreset is disabled)")
        resets = self._no_resets
        if self._num_done and mode is AutoresetMode.NEXT_STEP:
            # Validate before drawing: a rejected step must not consume the reset draws.
            if not ((actions == 0) | (actions == 1)).all():
                raise InvalidActionError(f"{actions!r} invalid: CartPole actions are 0 (left) or 1 (right)")
            resets = self.np_random.uniform(low=self.low, high=self.high, size=(4, self._num_done))
        n = self.num_envs
        obs, rewards = np.empty((n, 4), dtype=np.float32), np.empty(n, dtype=np.float32)
        terminated, truncated = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
        try:
            self._num_done = vector_step(self.states, actions, self._steps, self._done, resets,
                                         self._params_array, obs, rewards, terminated, truncated)
        except ValueError:
            raise InvalidActionError(f"{actions!r} invalid: CartPole actions are 0 (left) or 1 (right)") from None
        infos: dict[str, Any] = {}
        if self._num_done and mode is AutoresetMode.SAME_STEP:
            infos = self._reset_finished(obs)
        return obs, rewards, terminated, truncated, infos

    def _reset_finished(self, obs: np.ndarray) -> dict[str, Any]:
        """SAME_STEP: record the finished envs' last observations, then reset them in ``obs``."""
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(self._done):
            infos = self._add_info(infos, {"final_obs": obs[i].copy(), "final_info": {}}, int(i))
        resets = self.np_random.uniform(low=self.low, high=self.high, size=(4, self._num_done))
        vector_reset_rows(self.states, self._steps, self._done, resets, obs)
        self._done[:] = False
        self._num_done = 0
        return infos

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset all envs, or those in ``options["reset_mask"]``; ``low``/``high`` bound the uniform draw."""
        super().reset(seed=seed)
        options = dict(options or {})
        mask = _reset_mask(options, self.num_envs) if "reset_mask" in options else None
        options.pop("reset_mask", None)
        self.low, self.high = reset_bounds(options or None)
        if mask is None or self.states is None:
            if mask is not None:
                raise ResetNeeded("reset with a reset_mask needs a full reset() first")
            draws = self.np_random.uniform(low=self.low, high=self.high, size=(4, self.num_envs))
            self.states = np.ascontiguousarray(draws.T)
            self._steps[:] = 0
            self._done[:] = False
            self._num_done = 0
            return self.states.astype(np.float32), {}
        draws = self.np_random.uniform(low=self.low, high=self.high, size=(4, int(mask.sum())))
        obs = self.states.astype(np.float32)
        vector_reset_rows(self.states, self._steps, mask, draws, obs)
        self._done[mask] = False
        self._num_done = int(self._done.sum())
        return obs, {}

    def render(self):
        """Frames of every env (``rgb_array``), drawn by Gymnasium's own vector renderer (needs pygame)."""
        if self.render_mode is None:
            return None
        if self.states is None:
            raise ValueError("Cartpole's state is None, it probably hasn't be reset yet.")
        if self._renderer is None:
            from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv as GymVector

            self._renderer = GymVector(num_envs=self.num_envs, render_mode=self.render_mode)
        self._renderer.state = self.states.T.copy()
        return self._renderer.render()

    def close(self, **kwargs: Any):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close(**kwargs)
