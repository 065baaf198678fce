"""Batched CartPole for throughput: N envs in struct-of-arrays form, fast (polynomial) or exact physics.

``FastCartPoleBatch(num_envs, seed)`` steps N CartPole-v1 envs per call, from Python (``step``)
or T steps at a time inside one kernel (``rollout``), on one thread or several.

**Fast mode is opt-in and not bit-exact.** Bit-exact physics stays the default everywhere else
in fastpg (``fastpg/CartPole-v1``, its vector env, the engine). With ``exact=False`` (the
default here) sin/cos are polynomials (at most 1 ulp from libm for ``|theta| <= pi/4``), the
divisions by the total mass are folded into constants (one division per step is left) and the
force is computed without a branch. One step then differs from exact mode by at most ~5e-16
relative to the magnitude of the terms it sums, measured over x in +-2.4, velocities in +-10,
theta in +-pi/4 (``tests/test_fast.py``; 98% of components are bit-identical), and episode
lengths hardly ever differ: 10,000 of 10,000 random-action episodes had the same length in
both modes, and independent samples of the two are indistinguishable (chi-square p = 0.93).
Fast mode needs every angle it meets within pi/4: the termination angle and the reset bounds
must be at most pi/4 (Gymnasium's defaults are 0.21 and 0.05), else it raises ``ValueError``.
``exact=True`` runs the same batch with the exact kernels (libm sin/cos, Gymnasium's
arithmetic), so its states are those Gymnasium computes from the same initial states.

Semantics differ from Gymnasium's ``CartPoleVectorEnv`` on purpose, for speed:
- autoreset is same-step: an env that terminates or truncates is reset in the call that
  finishes it; ``obs`` shows its new initial state and ``final_observations`` its last one;
- observations are float64, a read-only view ``(N, 4)`` of the live state (no float32 copy):
  copy them to keep them past the next call;
- randomness: env i draws its initial states from its own xoshiro256** stream, seeded from
  ``seed`` (``fastpg._rng``), so results are identical for any number of threads.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager

import numpy as np

from .._jit import max_threads, numba_threads
from ..errors import InvalidActionError
from ..limits import MAX_ENVS
from ..validate import check_int, check_seed
from ._fast import FAST_ANGLE_LIMIT, REFILL_EVERY, batch_reset, batch_rollout, batch_step
from .kernels import cartpole_vector_reward
from .spec import DEFAULT_PARAMS, RESET_HIGH, RESET_LOW, CartPoleParams, params_array

__all__ = ["FAST_ANGLE_LIMIT", "FastCartPoleBatch"]

ROLLOUT_BLOCK = 4096  # envs a rollout takes through all its steps at once (~400 KiB: they stay in L2)


@contextmanager
def _invalid_actions():
    """The kernels raise ``ValueError`` (before changing anything) only for an action above 1 here."""
    try:
        yield
    except ValueError:
        raise InvalidActionError("actions must be 0 (left) or 1 (right)") from None


def _bound(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _actions(actions, num_envs: int, ndim: int) -> np.ndarray:
    """``actions`` (shape (N,) or (T, N)) as C-contiguous uint8 in {0, 1}, from bools or any integer dtype."""
    array = actions if isinstance(actions, np.ndarray) else np.asarray(actions)
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    elif array.dtype.kind not in "iu":
        raise TypeError(f"actions must be integers or bools (0 = push left, 1 = push right), got dtype {array.dtype}")
    if array.ndim != ndim or array.shape[-1] != num_envs:
        expected = f"({num_envs},)" if ndim == 1 else f"(T, {num_envs})"
        raise ValueError(f"actions must have shape {expected}, got {array.shape}")
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 1):
            raise InvalidActionError("actions must be 0 (left) or 1 (right)")
        array = array.astype(np.uint8)
    return np.ascontiguousarray(array)


class FastCartPoleBatch:
    """``num_envs`` CartPole envs stepped together; see the module docstring for the fast mode's deviation.

    Parameters: ``seed`` (int >= 0), ``params`` (a ``CartPoleParams``), ``exact`` (False: fast
    physics; True: Gymnasium's exact arithmetic), ``threads`` (Numba threads per call, results
    identical for any count), ``low``/``high`` (initial states uniform in [low, high), each component).
    """

    def __init__(self, num_envs: int, seed: int = 0, *, params: CartPoleParams = DEFAULT_PARAMS,
                 exact: bool = False, threads: int = 1, low: float = RESET_LOW, high: float = RESET_HIGH):
        self.num_envs = check_int("num_envs", num_envs, 1, MAX_ENVS)
        if not isinstance(exact, bool):
            raise TypeError(f"exact must be a bool, got {type(exact).__name__}")
        self.threads = check_int("threads", threads, 1, max_threads)
        self.low, self.high = _bound("low", low), _bound("high", high)
        if not self.low < self.high:
            raise ValueError(f"reset bounds need low < high, got low={low!r}, high={high!r}")
        self._params = params_array(params)
        self.params, self.exact = params, exact
        if not exact and (params.theta_threshold_radians > FAST_ANGLE_LIMIT
                          or max(-self.low, self.high) > FAST_ANGLE_LIMIT):
            raise ValueError("fast mode is accurate only for pole angles |angle| <= pi/4: it needs theta_threshold_radians "
                             f"<= pi/4 (got {params.theta_threshold_radians!r}) and reset bounds within +-pi/4 "
                             f"(got [{self.low!r}, {self.high!r})); use exact=True beyond that")
        n = self.num_envs
        self._state, self._next = np.empty((4, n)), np.empty((4, n))
        self._final = np.zeros((4, n))
        self._steps = np.zeros(n, dtype=np.int32)
        self._rng = np.empty((4, n), dtype=np.uint64)
        self._obs = self._state.T.view()
        self._obs.flags.writeable = False
        self._final_obs = self._final.T.view()
        self._final_obs.flags.writeable = False
        self._reward_step, self._reward_final = (np.float32(cartpole_vector_reward(done, self._params))
                                                 for done in (False, True))
        self._rewards = np.full(n, self._reward_step, dtype=np.float32)
        self._rewards.flags.writeable = False
        self._calls = 0
        self._generator = np.random.default_rng(check_seed(seed))
        self.reset()

    @property
    def observations(self) -> np.ndarray:
        """float64[N, 4] read-only view of the live state: x, x_dot, angle, angle_dot per env."""
        return self._obs

    @property
    def final_observations(self) -> np.ndarray:
        """float64[N, 4] read-only view: row i is the last state of env i's latest finished episode."""
        return self._final_obs

    @property
    def episode_steps(self) -> np.ndarray:
        """int32[N]: steps taken in each env's current episode."""
        return self._steps & np.int32((1 << 30) - 1)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Draw every env's initial state; ``seed`` reseeds the streams, None continues from the last seed.

        Returns the observations (see :attr:`observations`).
        """
        if seed is not None:
            self._generator = np.random.default_rng(check_seed(seed))
        key = np.uint64(self._generator.bit_generator.random_raw())
        with numba_threads(self.threads):
            batch_reset(self._state, self._next, self._steps, self._rng, key, self.low, self.high, self.threads)
        return self._obs

    def step(self, actions):
        """Step every env with ``actions`` (N values in {0, 1}; uint8 or bool avoid a conversion).

        Returns ``(obs, rewards, terminated, truncated)``: obs float64[N, 4] (a view, see
        :attr:`observations`; finished envs show their new initial state), rewards float32[N]
        (as Gymnasium's ``CartPoleVectorEnv`` gives them: ones, read-only, or -1.0/-0.0 with the
        Sutton-Barto reward), terminated and truncated bool[N].
        """
        actions = _actions(actions, self.num_envs, 1)
        terminated = np.empty(self.num_envs, dtype=np.bool_)
        truncated = np.empty(self.num_envs, dtype=np.bool_)
        self._calls += 1
        with numba_threads(self.threads), _invalid_actions():
            batch_step(self.exact, self._state, self._next, self._steps, self._rng, actions, self._params, self.low,
                       self.high, self._calls % REFILL_EVERY == 0, self.threads, terminated, truncated, self._final)
        rewards = self._rewards if self._reward_step == self._reward_final else \
            np.where(terminated, self._reward_final, self._reward_step)
        return self._obs, rewards, terminated, truncated

    def rollout(self, actions) -> int:
        """Run ``T`` steps in one kernel call with ``actions`` of shape (T, N); returns the episodes finished.

        Same results as T calls of :meth:`step` (nothing is recorded per step).
        """
        actions = _actions(actions, self.num_envs, 2)
        with numba_threads(self.threads), _invalid_actions():
            return int(batch_rollout(self.exact, self._state, self._next, self._steps, self._rng, actions,
                                     self._params, self.low, self.high, self.threads, ROLLOUT_BLOCK))
