"""Evaluate a policy: in fastpg's kernels (fast) or in Gymnasium's own ``CartPole-v1`` (the final word).

Both play the same episodes for the same ``seed``: episode i starts where a Gymnasium env is after
``reset(seed=seed)`` and i plain ``reset()`` calls, and draws its action uniforms from the engine's
stream i (see ``fastpg.pg.engine``). Because fastpg's simulator is bit-identical to Gymnasium's, the
two give identical returns; tests check it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from .._jit import numba_threads
from .._rng import episode_uniforms
from ..cartpole.spec import DEFAULT_PARAMS, CartPoleParams, spec_of
from ..validate import check_episodes
from ._rollout import play_batch, play_until_hopeless
from .engine import batch_start, check_threads
from .policy import act_scalar, logit_scalar

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

    def solved(self, threshold: float) -> bool:
        """True if every requested episode was played and the mean return is >= ``threshold``."""
        return self.complete and self.mean_return >= threshold

    def summary(self) -> dict:
        """A JSON-ready summary: mean/min/max/std return, episodes, mode and simulator."""
        r = self.returns
        return {"simulator": self.simulator, "greedy": self.greedy, "episodes": int(r.shape[0]),
                "complete": self.complete, "mean_return": self.mean_return, "std_return": float(r.std()),
                "min_return": float(r.min()), "max_return": float(r.max())}


def evaluate(theta, episodes: int = 100, seed: int = 0, *, greedy: bool = False,
             params: CartPoleParams = DEFAULT_PARAMS, threads: int = 1,
             stop_below: float | None = None) -> Evaluation:
    """Play ``episodes`` episodes of the policy ``theta`` (float64[4] or [5]) in fastpg's kernels.

    ``greedy`` plays left iff theta . s (+ b) >= 0; otherwise actions are sampled. With
    ``stop_below`` (a mean return) episodes are played serially and play stops once the mean can no
    longer reach it (a fast "is it solved?" check).
    """
    check_episodes(episodes)
    if stop_below is not None and (isinstance(stop_below, bool) or not isinstance(stop_below, numbers.Real)
                                   or not math.isfinite(stop_below)):
        raise ValueError(f"stop_below must be a finite number, got {stop_below!r}")
    threads = check_threads(threads)
    theta, params, p, states0, key = batch_start(theta, episodes, seed, params)
    rng, feature = np.empty((episodes, 4), dtype=np.uint64), np.empty((episodes, theta.shape[0]))
    lengths, returns = np.zeros(episodes, dtype=np.int64), np.zeros(episodes)
    played = episodes
    if stop_below is not None:
        best = 0.0 if params.sutton_barto_reward else float(params.max_episode_steps)
        played = play_until_hopeless(theta, states0, key, p, bool(greedy), float(stop_below) * episodes, best, rng,
                                     feature, lengths, returns)
    else:
        with numba_threads(threads):  # in chunks, so that Ctrl-C is seen between kernel calls
            for a in range(0, episodes, EVAL_CHUNK):
                b = min(a + EVAL_CHUNK, episodes)
                play_batch(theta, states0[a:b], key, a, p, bool(greedy), rng[a:b], feature[a:b], lengths[a:b],
                           returns[a:b])
    return Evaluation(returns[:played], lengths[:played], episodes, bool(greedy), "fastpg", played == episodes)


def gymnasium_env(params: CartPoleParams = DEFAULT_PARAMS) -> gym.Env:
    """Gymnasium's own CartPole (v1, or v0 for a 200-step limit) configured like ``params``."""
    spec = spec_of(params)
    if spec is None or params._replace(integrator=DEFAULT_PARAMS.integrator, sutton_barto_reward=False,
                                       max_episode_steps=DEFAULT_PARAMS.max_episode_steps) != DEFAULT_PARAMS:
        raise ValueError("Gymnasium evaluation needs CartPole-v0/v1 constants")
    env = gym.make(spec.id, sutton_barto_reward=params.sutton_barto_reward)
    env.unwrapped.kinematics_integrator = params.kinematics_integrator
    return env


def evaluate_in_gymnasium(theta, episodes: int = 100, seed: int = 0, *, greedy: bool = False,
                          params: CartPoleParams = DEFAULT_PARAMS) -> Evaluation:
    """Play the same episodes as :func:`evaluate` in ``gymnasium.make("CartPole-v1")``, one Python step at a time.

    The policy is computed in plain Python floats exactly as the kernels compute it, from the
    float32 observation Gymnasium returns.
    """
    check_episodes(episodes)
    theta, params, _, _, key = batch_start(theta, episodes, seed, params)
    weights = [float(w) for w in theta[:4]]
    bias = float(theta[4]) if theta.shape[0] == 5 else None
    env = gymnasium_env(params)
    uniforms = np.empty(params.max_episode_steps)
    lengths, returns = np.zeros(episodes, dtype=np.int64), np.zeros(episodes)
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed) if i == 0 else env.reset()
            episode_uniforms(key, i, uniforms)
            total, t, done = 0.0, 0, False
            while not done:
                z = logit_scalar(weights, bias, obs.tolist())
                obs, reward, terminated, truncated, _ = env.step(act_scalar(z, uniforms[t], greedy))
                total += float(reward)
                t += 1
                done = terminated or truncated
            lengths[i], returns[i] = t, total
    finally:
        env.close()
    return Evaluation(returns, lengths, episodes, bool(greedy), "gymnasium", True)

