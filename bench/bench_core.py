"""Simulator speed: kernel step, registered env, vector env, cold start — against Gymnasium in the same run.

Run: ``make bench`` (or ``.venv/bin/python -m pytest bench/bench_core.py``).
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import fastpg  # noqa: F401  (registers the envs)
from fastpg.cartpole.kernels import cartpole_step
from fastpg.cartpole.spec import DEFAULT_PARAMS

STEPS = 2000


def run_env(env, actions):
    """Step ``env`` through ``actions``, resetting at episode ends."""
    step, reset = env.step, env.reset
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            reset()


@pytest.mark.parametrize("impl", ["gymnasium", "fastpg"])
def test_env_step(benchmark, impl):
    """``gymnasium.make(id).step`` with its standard wrappers, random actions."""
    env = gym.make("CartPole-v1" if impl == "gymnasium" else "fastpg/CartPole-v1")
    env.reset(seed=0)
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 2, STEPS)]
    run_env(env, actions)
    benchmark.group = "env.step (gym.make)"
    benchmark.extra_info.update(steps=STEPS, impl=f"{impl} make('CartPole-v1').step")
    benchmark(run_env, env, actions)


def run_kernel(state, actions, params, obs):
    """Call the raw step kernel once per action, re-centring the state when it terminates."""
    for action in actions:
        if cartpole_step(state, action, params, obs):
            state[:] = 0.01


@pytest.mark.parametrize("impl", ["gymnasium", "fastpg"])
def test_kernel_step(benchmark, impl):
    """The raw kernel called from Python, against Gymnasium's wrapped ``Env.step``."""
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 2, STEPS)]
    benchmark.group = "kernel step from Python"
    if impl == "gymnasium":
        env = gym.make("CartPole-v1")
        env.reset(seed=0)
        benchmark.extra_info.update(steps=STEPS, impl="gymnasium make('CartPole-v1').step")
        benchmark(run_env, env, actions)
        return
    state, obs, params = np.full(4, 0.01), np.empty(4, np.float32), DEFAULT_PARAMS.as_array()
    run_kernel(state, actions, params, obs)
    benchmark.extra_info.update(steps=STEPS, impl="fastpg cartpole_step kernel")
    benchmark(run_kernel, state, actions, params, obs)


def run_vector(env, actions):
    for action in actions:
        env.step(action)


@pytest.mark.parametrize("num_envs", [64, 16384])
@pytest.mark.parametrize("impl", ["gymnasium", "fastpg"])
def test_vector_step(benchmark, impl, num_envs):
    """One vector ``step`` over N envs (next-step autoreset), random actions."""
    env_id = "CartPole-v1" if impl == "gymnasium" else "fastpg/CartPole-v1"
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    calls = max(2, 200_000 // num_envs)
    actions = list(np.random.default_rng(0).integers(0, 2, (calls, num_envs)))
    run_vector(env, actions)
    benchmark.group = f"vector env N={num_envs}"
    benchmark.extra_info.update(steps=calls * num_envs, impl=f"{impl} vector env")
    benchmark(run_vector, env, actions)


COLD_START = (
    "import gymnasium, {module}; env = gymnasium.make('{env_id}'); env.reset(seed=0); env.step(0)"
)


@pytest.mark.parametrize("impl", ["gymnasium", "fastpg"])
def test_cold_start(benchmark, impl):
    """A new process (warm Numba cache) from interpreter start to its first step."""
    module, env_id = ("gymnasium", "CartPole-v1") if impl == "gymnasium" else ("fastpg", "fastpg/CartPole-v1")
    command = [sys.executable, "-c", COLD_START.format(module=module, env_id=env_id)]
    subprocess.run(command, check=True)  # fills the Numba cache
    benchmark.group = "cold start to first step"
    benchmark.extra_info.update(steps=1, impl=f"{impl} new process")
    benchmark.pedantic(subprocess.run, args=(command,), kwargs={"check": True}, rounds=7, iterations=1)
