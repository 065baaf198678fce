"""Training speed: one update, a whole default run to the solve point (warm and cold Numba cache), and
Stable-Baselines3 PPO's time to solve where it is installed (``pip install stable-baselines3``).

Run: ``.venv/bin/python -m pytest bench/bench_training.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from fastpg.pg import engine
from fastpg.training.config import TrainConfig
from fastpg.training.loop import train

SEEDS = range(20)  # the README's untuned seeds
CONFIG = TrainConfig(final_episodes=0)


def test_one_update(benchmark):
    """One default update: a batch of 4 episodes of a mid-training policy, estimate, Adam step, solve check."""
    theta = np.array([-0.3, -0.8, -6.0, -2.5])  # episodes of ~100-500 steps
    steps = engine.estimate_gradient(theta, 4, 0, baseline="per_timestep", normalize=True).steps
    config = CONFIG.replace(max_episodes=4, stop_at_solve=False, theta_init=0.0)
    train(config)
    benchmark.group = "training"
    benchmark.extra_info.update(note=f"update of the default config from theta_0 = 0 ({steps} steps at {theta})")
    benchmark(train, config)


def test_default_run_to_solve_warm_cache(benchmark):
    """Whole default runs, seeds 0-19 in turn, each until solved; extra_info holds per-seed figures."""
    train(CONFIG.replace(max_episodes=8))
    results = benchmark.pedantic(lambda: [train(CONFIG.replace(seed=s)) for s in SEEDS], rounds=3, iterations=1)
    episodes = [r.solved_at["episodes"] for r in results]
    seconds = [r.solved_at["seconds"] for r in results]
    benchmark.group = "training"
    benchmark.extra_info.update(runs=len(results), median_episodes_to_solve=float(np.median(episodes)),
                                median_seconds_to_solve=float(np.median(seconds)))
    assert all(r.solved_at for r in results)


def test_default_run_cold_cache(benchmark):
    """A new process that trains the default config, with an empty Numba cache (compiles every kernel)."""
    code = "import fastpg; r = fastpg.train(fastpg.TrainConfig(final_episodes=0)); assert r.solved_at"

    def cold():
        with tempfile.TemporaryDirectory() as cache:
            subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "NUMBA_CACHE_DIR": cache})

    benchmark.group = "training: new process"
    benchmark.extra_info.update(note="cold Numba cache: includes compiling the kernels")
    benchmark.pedantic(cold, rounds=1, iterations=1)


def test_default_run_warm_cache_new_process(benchmark):
    code = "import fastpg; r = fastpg.train(fastpg.TrainConfig(final_episodes=0)); assert r.solved_at"
    subprocess.run([sys.executable, "-c", code], check=True)
    benchmark.group = "training: new process"
    benchmark.pedantic(subprocess.run, args=([sys.executable, "-c", code],), kwargs={"check": True}, rounds=3,
                       iterations=1)


def test_sb3_ppo_time_to_solve(benchmark):
    """rl-zoo's tuned PPO for CartPole-v1 until a 100-episode evaluation reaches 475 (needs SB3)."""
    sb3 = pytest.importorskip("stable_baselines3", reason="Stable-Baselines3 is not installed (optional)")
    from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
    from stable_baselines3.common.env_util import make_vec_env

    def solve():
        env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
        model = sb3.PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                        ent_coef=0.0, learning_rate=0.001, clip_range=0.2, seed=0, verbose=0)
        stop = StopTrainingOnRewardThreshold(reward_threshold=475, verbose=0)
        callback = EvalCallback(make_vec_env("CartPole-v1", n_envs=1, seed=1), callback_on_new_best=stop,
                                n_eval_episodes=100, eval_freq=256, verbose=0)
        model.learn(total_timesteps=200_000, callback=callback)

    benchmark.group = "training: time to solve"
    benchmark.pedantic(solve, rounds=1, iterations=1)
