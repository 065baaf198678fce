"""Episodes and wall time to solve CartPole-v1 over many seeds, and an independent check of the returned policy.

For each seed: train with the defaults (plus ``--set`` overrides) after a warm-up run in the same
process (kernels loaded), and record the training episodes to solve, the evaluation episodes the
solve checks played, and the wall time to solve. Then check the returned θ independently of
fastpg's simulator and random streams: 100 episodes in ``gymnasium.make("CartPole-v1")``, episode i
reset with ``seed = 10**9 + 1000 * run_seed + i`` (never a training seed: those are 63-bit
SeedSequence outputs), actions sampled with NumPy's ``default_rng(10**9 + run_seed)``; and the
same 100 starts played greedily. Prints one line per seed and a summary. Example:

    .venv/bin/python tools/solve_stats.py --seeds 20000-20039
    .venv/bin/python tools/solve_stats.py --seeds 10000-10199 --set solve_margin_se=1.0
"""

from __future__ import annotations

import argparse
import statistics
import tomllib
from concurrent.futures import ProcessPoolExecutor

import gymnasium as gym
import numpy as np

from fastpg.pg.policy import act_scalar, logit_scalar
from fastpg.training.config import config_from_dict
from fastpg.training.loop import train

CHECK_EPISODES = 100
CHECK_SEED = 10**9


def seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def gymnasium_check(theta: np.ndarray, run_seed: int, greedy: bool) -> float:
    """Mean return of the independent check: Gymnasium's own env, seeds and NumPy uniforms."""
    weights, bias = theta[:4].tolist(), (float(theta[4]) if theta.shape[0] == 5 else None)
    env, uniforms = gym.make("CartPole-v1"), np.random.default_rng(CHECK_SEED + run_seed)
    total = 0.0
    for i in range(CHECK_EPISODES):
        obs, _ = env.reset(seed=CHECK_SEED + 1000 * run_seed + i)
        done = False
        while not done:
            action = act_scalar(logit_scalar(weights, bias, obs.tolist()), uniforms.random(), greedy)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
    env.close()
    return total / CHECK_EPISODES


def one_seed(args) -> dict:
    seed, overrides = args
    config = config_from_dict({**overrides, "seed": seed, "final_episodes": 0})
    train(config.replace(seed=0, max_episodes=8))  # load the kernels in this process
    result = train(config)
    row = {"seed": seed, "solved": result.solved_at is not None, "eval_episodes": result.eval_episodes}
    if row["solved"]:
        row.update(episodes=result.solved_at["episodes"], seconds=result.solved_at["seconds"],
                   stochastic=gymnasium_check(result.theta, seed, False),
                   greedy=gymnasium_check(result.theta, seed, True))
    return row


def summary(rows: list[dict]) -> str:
    solved = [r for r in rows if r["solved"]]
    if not solved:
        return f"0/{len(rows)} solved"
    eps = [r["episodes"] for r in solved]
    p90 = statistics.quantiles(eps, n=10, method="inclusive")[-1] if len(eps) > 1 else eps[0]
    return (f"{len(solved)}/{len(rows)} solved; training episodes to solve: median {statistics.median(eps):g}, "
            f"p90 {p90:g}, max {max(eps)}; evaluation episodes: median "
            f"{statistics.median(r['eval_episodes'] for r in solved):g}; median wall time to solve "
            f"{statistics.median(r['seconds'] for r in solved) * 1e3:.1f} ms; independent check >= 475: "
            f"{sum(r['stochastic'] >= 475 for r in solved)}/{len(solved)}; greedy 500.0: "
            f"{sum(r['greedy'] == 500.0 for r in solved)}/{len(solved)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="20000-20039", help="seed range FIRST-LAST (default 20000-20039)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override (TOML value syntax), repeatable")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key] = value
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_seed, [(s, overrides) for s in seed_range(args.seeds)]))
    for r in rows:
        print(f"seed {r['seed']}: " + (f"solved at {r['episodes']} training episodes ({r['eval_episodes']} evaluation "
                                       f"episodes) in {r['seconds'] * 1e3:.1f} ms; independent check: "
                                       f"{r['stochastic']:.2f} stochastic, {r['greedy']:.2f} greedy"
                                       if r["solved"] else "not solved"))
    print("\n" + summary(rows))


if __name__ == "__main__":
    main()
