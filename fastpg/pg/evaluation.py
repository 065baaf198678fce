"""Evaluate a policy: in fastpg's kernels (fast) or in Gymnasium's own ``CartPole-v1`` (the final word).

Both play the same episodes for the same ``seed``: episode i starts where a Gymnasium env is after
``reset(seed=seed)`` and i plain ``reset()`` calls, and draws its action uniforms from the engine's
stream i (see ``fastpg.pg.engine``). Because fastpg's simulator is bit-identical to Gymnasium's, the
two give identical returns; tests check it.
"""

from __future__ import annotations

import math
import numbers
from contextlib import nullcontext
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.utils.seeding import np_random

from .._jit import numba_threads
from .._rng import episode_uniforms
from ..cartpole.spec import DEFAULT_PARAMS, RESET_HIGH, RESET_LOW, CartPoleParams, spec_of
from ..validate import check_episodes, check_starts
from ._evaluation import play_chunks_until_out_of_reach, play_until_out_of_reach
from ._rollout import play_batch, play_batch_serial
from .engine import batch_start, check_threads
from .policy import logit, p_left

EVAL_CHUNK = 8192  # episodes per kernel call of evaluate (Python sees Ctrl-C between calls)


@dataclass(frozen=True)
class Evaluation:
    """Returns float64[n] and lengths int64[n] of the n episodes played, in order.

    ``complete`` is False when an evaluation with ``stop_below`` stopped early because the mean
    return could no longer reach it; then n < ``episodes``.
    """

    returns: np.ndarray
    lengths: np.ndarray
    episodes: int
    greedy: bool
    simulator: str
    complete: bool

    @property
    def mean_return(self) -> float:
        """Mean return over the episodes played."""
        return float(self.returns.mean())

    def lower_bound(self, margin_se: float) -> float:
        """The mean return minus ``margin_se`` standard errors (sample std / sqrt(n); 0 for one episode)."""
        r = self.returns
        return self.mean_return - (margin_se * float(r.std(ddof=1)) / math.sqrt(r.shape[0]) if r.shape[0] > 1 else 0.0)

    def solved(self, threshold: float, margin_se: float = 0.0) -> bool:
        """True if every requested episode was played and the mean return minus ``margin_se`` standard
        errors is >= ``threshold``."""
        return self.complete and self.lower_bound(margin_se) >= threshold

    def summary(self) -> dict:
        """A JSON-ready summary: mean/min/max/std return, episodes, mode and simulator."""
        r = self.returns
        return {"simulator": self.simulator, "greedy": self.greedy, "episodes": int(r.shape[0]),
                "complete": self.complete, "mean_return": self.mean_return, "std_return": float(r.std()),
                "min_return": float(r.min()), "max_return": float(r.max())}


def evaluate(theta, episodes: int = 100, seed: int = 0, *, greedy: bool = False,
             params: CartPoleParams = DEFAULT_PARAMS, threads: int = 1,
             stop_below: float | None = None, margin_se: float = 0.0) -> Evaluation:
    """Play ``episodes`` episodes of the policy ``theta`` (float64[4] or [5]) in fastpg's kernels.

    ``greedy`` plays left iff theta . s (+ b) >= 0; otherwise actions are sampled. With
    ``stop_below`` (a mean return) episodes are played in order and play stops after the first
    episode after which the mean minus ``margin_se`` standard errors can no longer reach it (a
    fast "is it solved?" check, ``Evaluation.solved(stop_below, margin_se)``); on k > 1 threads
    they are played 4k at a time, with the same stop and returns as on one thread.
    """
    check_episodes(episodes)
    _check_stop(stop_below, margin_se)
    threads = check_threads(threads)
    theta, params, p, states0, key = batch_start(theta, episodes, seed, params)
    return _play(theta, states0, key, params, p, greedy, threads, stop_below, margin_se)


def evaluate_from(theta, starts, seed: int = 0, *, greedy: bool = False, params: CartPoleParams = DEFAULT_PARAMS,
                  threads: int = 1, stop_below: float | None = None, margin_se: float = 0.0) -> Evaluation:
    """:func:`evaluate` with given initial states: one episode from each row of ``starts`` (float64[m, 4],
    e.g. ``fastpg.cartpole.spec.start_lattice(3)``), in order.

    Episode i samples its actions from stream i of ``seed``, as episode i of ``evaluate(theta, m, seed)``
    does: ``evaluate_from(theta, engine.initial_states(m, seed), seed)`` is ``evaluate(theta, m, seed)``.
    """
    starts = check_starts(starts)
    _check_stop(stop_below, margin_se)
    threads = check_threads(threads)
    theta, params, p, _, key = batch_start(theta, starts.shape[0], seed, params)
    return _play(theta, starts, key, params, p, greedy, threads, stop_below, margin_se)


def _check_stop(stop_below, margin_se) -> None:
    if stop_below is not None and (isinstance(stop_below, bool) or not isinstance(stop_below, numbers.Real)
                                   or not math.isfinite(stop_below)):
        raise ValueError(f"stop_below must be a finite number, got {stop_below!r}")
    if isinstance(margin_se, bool) or not isinstance(margin_se, numbers.Real) or not 0 <= margin_se < math.inf:
        raise ValueError(f"margin_se must be a finite number >= 0, got {margin_se!r}")


def _play(theta, states0, key, params, p, greedy, threads, stop_below, margin_se) -> Evaluation:
    """Play one episode from each row of ``states0`` (inputs validated) and return their Evaluation."""
    episodes = states0.shape[0]
    rng = np.empty((episodes, 4), dtype=np.uint64)
    lengths, returns = np.zeros(episodes, dtype=np.int64), np.zeros(episodes)
    played = episodes
    if stop_below is not None:
        rule = (bool(greedy), float(stop_below), float(margin_se), best_return(params))
        if threads == 1:
            played = play_until_out_of_reach(theta, states0, key, p, *rule, rng, lengths, returns)
        else:
            with numba_threads(threads):
                played = play_chunks_until_out_of_reach(theta, states0, key, p, *rule, 4 * threads, rng, lengths,
                                                        returns)
    else:
        kernel = play_batch if threads > 1 else play_batch_serial
        with numba_threads(threads) if threads > 1 else nullcontext():
            for a in range(0, episodes, EVAL_CHUNK):  # in chunks, so that Ctrl-C is seen between kernel calls
                b = min(a + EVAL_CHUNK, episodes)
                kernel(theta, states0[a:b], key, a, p, bool(greedy), rng[a:b], lengths[a:b], returns[a:b])
    return Evaluation(returns[:played], lengths[:played], episodes, bool(greedy), "fastpg", played == episodes)


def best_return(params: CartPoleParams) -> float:
    """The highest return an episode can have: one per step to the time limit (0 with Sutton & Barto's reward)."""
    return 0.0 if params.sutton_barto_reward else float(params.max_episode_steps)


def gymnasium_env(params: CartPoleParams = DEFAULT_PARAMS) -> gym.Env:
    """Gymnasium's own CartPole (v1, or v0 for a 200-step limit) configured like ``params``."""
    _check_gymnasium_params(params)
    env = gym.make(spec_of(params).id, sutton_barto_reward=params.sutton_barto_reward)
    env.unwrapped.kinematics_integrator = params.kinematics_integrator
    return env


def gymnasium_vector_env(columns: int, params: CartPoleParams = DEFAULT_PARAMS) -> CartPoleVectorEnv:
    """Gymnasium's own ``CartPoleVectorEnv`` with ``columns`` environments configured like ``params``."""
    _check_gymnasium_params(params)
    env = CartPoleVectorEnv(columns, max_episode_steps=params.max_episode_steps,
                            sutton_barto_reward=params.sutton_barto_reward)
    env.kinematics_integrator = params.kinematics_integrator
    return env


def _check_gymnasium_params(params: CartPoleParams) -> None:
    if spec_of(params) is None or params._replace(
            integrator=DEFAULT_PARAMS.integrator, sutton_barto_reward=False,
            max_episode_steps=DEFAULT_PARAMS.max_episode_steps) != DEFAULT_PARAMS:
        raise ValueError("Gymnasium evaluation needs CartPole-v0/v1 constants")


def evaluate_in_gymnasium(theta, episodes: int = 100, seed: int = 0, *, greedy: bool = False,
                          params: CartPoleParams = DEFAULT_PARAMS) -> Evaluation:
    """Play the same episodes as :func:`evaluate` in Gymnasium's own CartPole physics, all at once.

    Episode i is column i of Gymnasium's ``CartPoleVectorEnv``. It starts where
    ``gymnasium.make("CartPole-v1")`` is after ``reset(seed=seed)`` and i plain ``reset()`` calls
    (row i of ``uniform(-0.05, 0.05, (episodes, 4))`` from the generator Gymnasium seeds with
    ``seed``; the vector env's own reset draws the same numbers in (4, episodes) order, so its
    columns are set to the single env's starts) and samples with the engine's stream i. The policy
    is computed in float64 from the float32 observations, with the C library's exp, exactly as the
    kernels compute it. A column's episode ends at its first termination or truncation (the
    vector env then auto-resets it; later steps are ignored). Returns are identical to playing the
    episodes one by one in ``gymnasium.make`` (a test checks it).
    """
    return evaluate_in_gymnasium_modes(theta, episodes, seed, (bool(greedy),), params=params)[0]


def evaluate_in_gymnasium_modes(theta, episodes: int, seed: int, modes: tuple[bool, ...], *,
                                params: CartPoleParams = DEFAULT_PARAMS) -> list[Evaluation]:
    """:func:`evaluate_in_gymnasium` for each greedy flag in ``modes``, side by side in one vector env
    (``len(modes) * episodes`` columns, block j playing mode j): one Gymnasium step call per time step."""
    check_episodes(episodes)
    theta, params, _, _, key = batch_start(theta, episodes, seed, params)
    columns = len(modes) * episodes
    env = gymnasium_vector_env(columns, params)
    uniforms = np.empty((episodes, params.max_episode_steps))
    for i in range(episodes):
        episode_uniforms(key, i, uniforms[i])
    sampled = np.flatnonzero(~np.repeat(np.array(modes, dtype=np.bool_), episodes))
    lengths, returns = np.zeros(columns, dtype=np.int64), np.zeros(columns)
    try:
        env.reset(seed=seed)
        starts = np_random(seed)[0].uniform(RESET_LOW, RESET_HIGH, size=(episodes, 4))
        env.state = np.ascontiguousarray(np.tile(starts, (len(modes), 1)).T)
        obs, live, t = env.state.T.astype(np.float32), np.ones(columns, dtype=np.bool_), 0
        while live.any():
            z = logit(theta, obs)
            left, draw = z >= 0.0, sampled[live[sampled]]
            left[draw] = uniforms[draw % episodes, t] < p_left(z[draw])
            obs, reward, terminated, truncated, _ = env.step(np.where(left, 0, 1))
            returns[live] += reward[live]
            t += 1
            ended = live & (terminated | truncated)
            lengths[ended] = t
            live &= ~ended
    finally:
        env.close()
    block = [slice(j * episodes, (j + 1) * episodes) for j in range(len(modes))]
    return [Evaluation(returns[b], lengths[b], episodes, mode, "gymnasium", True) for b, mode in zip(block, modes)]
