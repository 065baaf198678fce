"""Batched rollouts: Gymnasium's ``CartPoleVectorEnv`` against fastpg's exact and fast batches, same run.

Every implementation steps N envs under fixed uniformly random actions with autoreset:
- ``gymnasium CartPoleVectorEnv`` and ``fastpg vector env``: ``gym.make_vec(..., "vector_entry_point")``,
  one ``step`` call per step from Python (float32 observations, next-step autoreset);
- ``{exact,fast} batch step``: ``FastCartPoleBatch.step`` from Python (float64 observation view,
  same-step autoreset);
- ``{exact,fast} batch rollout``: ``FastCartPoleBatch.rollout``, all steps in one kernel call,
  on 1 or 2 Numba threads.
The summary printed by ``bench/conftest.py`` gives each one's ratio to Gymnasium in its group.
Run: ``.venv/bin/python -m pytest bench/bench_fast.py --benchmark-columns=median,iqr,rounds``.
On a shared machine prefer ``OMP_WAIT_POLICY=passive``: with Numba's OpenMP layer, waiting threads
spin and slow the 2-thread runs whenever another process holds a core.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import fastpg  # noqa: F401  (registers the envs)
from fastpg._jit import max_threads
from fastpg.cartpole.fast import FastCartPoleBatch

STEPS_PER_CALL = 2_000_000  # env-steps per timed call of an in-kernel rollout; a tenth for Python loops
IMPLS = ["gymnasium CartPoleVectorEnv", "fastpg vector env", "exact batch step", "exact batch rollout 1 thread",
         "exact batch rollout 2 threads", "fast batch step", "fast batch rollout 1 thread",
         "fast batch rollout 2 threads"]


def run_steps(step, actions):
    for action in actions:
        step(action)


def runner(impl: str, num_envs: int):
    """(function to time, env-steps per call) for one implementation, warmed up."""
    rng = np.random.default_rng(0)
    calls = max(2, STEPS_PER_CALL // 10 // num_envs)
    if impl.startswith(("gymnasium", "fastpg vector env")):
        env_id = "CartPole-v1" if impl.startswith("gymnasium") else "fastpg/CartPole-v1"
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        env.reset(seed=0)
        actions = list(rng.integers(0, 2, (calls, num_envs)))
        function, steps = (lambda: run_steps(env.step, actions)), calls * num_envs
    else:
        threads = 2 if "2 threads" in impl else 1
        if threads > max_threads:
            pytest.skip("needs 2 threads (NUMBA_NUM_THREADS >= 2)")
        batch = FastCartPoleBatch(num_envs, 0, exact=impl.startswith("exact"), threads=threads)
        if "step" in impl:
            actions = list(rng.integers(0, 2, (calls, num_envs), dtype=np.uint8))
            function, steps = (lambda: run_steps(batch.step, actions)), calls * num_envs
        else:
            horizon = max(2, STEPS_PER_CALL // num_envs)
            actions = rng.integers(0, 2, (horizon, num_envs), dtype=np.uint8)
            function, steps = (lambda: batch.rollout(actions)), horizon * num_envs
    function()
    return function, steps


@pytest.mark.parametrize("num_envs", [1024, 16384])
@pytest.mark.parametrize("impl", IMPLS)
def test_rollout(benchmark, impl, num_envs):
    """Env-steps of N envs under fixed random actions, autoreset included."""
    function, steps = runner(impl, num_envs)
    benchmark.group = f"rollout N={num_envs}"
    benchmark.extra_info.update(steps=steps, impl=impl)
    benchmark(function)
