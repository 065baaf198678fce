"""A short simulator demo: roll out the vector env with random actions and report steps/s."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np


def vector_throughput(env_id: str, num_envs: int, steps: int, seed: int = 0) -> float:
    """Env steps per second of ``gym.make_vec(env_id)`` over ``steps`` calls with random actions."""
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, 2, size=(steps, num_envs))
    env.step(actions[0])  # compile or load the kernels before timing
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def run_demo(num_envs: int = 4096, steps: int = 500) -> str:
    """Measure fastpg's and Gymnasium's vector CartPole-v1 and return a summary table."""
    rows = [(name, vector_throughput(env_id, num_envs, steps)) for name, env_id in
            (("gymnasium CartPoleVectorEnv", "CartPole-v1"), ("fastpg CartPoleVectorEnv", "fastpg/CartPole-v1"))]
    base = rows[0][1]
    lines = [f"CartPole-v1, {num_envs} envs x {steps} steps, random actions"]
    lines += [f"  {name:<30}{rate / 1e6:8.1f} M steps/s  ({rate / base:.1f}x)" for name, rate in rows]
    return "\n".join(lines)
