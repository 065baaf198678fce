"""Episodes and wall time to solve CartPole-v1 over many seeds, and an independent check of the returned policy.

For each seed: train with the defaults (plus ``--set`` overrides) after a warm-up run in the same
process (kernels loaded), and record the training episodes to solve, the evaluation episodes the
solve checks played, and the wall time to solve. Then check the returned θ independently of
fastpg's simulator and random streams: 100 episodes in ``gymnasium.make("CartPole-v1")``, episode i
reset with ``seed = 10**9 + 1000 * run_seed + i`` (never a training seed: those are 63-bit
SeedSequence outputs), actions sampled with NumPy's ``default_rng(10**9 + run_seed)``; and the
same 100 starts played greedily. With ``--greedy-starts N`` also play the returned θ greedily from N
random starts in fastpg's kernels (seed ``777 + run_seed``; bit-identical to Gymnasium's env), report
the fraction p that ends before 500 steps, and summarize the chance that a 100-episode greedy check
fails, mean over runs of 1 - (1 - p)^100: a far finer measure than 40 pass/fail checks.
``--no-gymnasium-check`` skips the (slow, ~1.5 s per run) Gymnasium check. Prints one line per seed
and a summary. Examples:

    .venv/bin/python tools/solve_stats.py --seeds 20000-20039
    .venv/bin/python tools/solve_stats.py --seeds 10000-10199 --set solve_margin_se=1.0
    .venv/bin/python tools/solve_stats.py --seeds 90000-90399 --greedy-starts 10000 --no-gymnasium-check
"""

from __future__ import annotations

import argparse
import statistics
import tomllib
from concurrent.futures import ProcessPoolExecutor

import gymnasium as gym
import numpy as np

from fastpg.cartpole.spec import RESET_HIGH, RESET_LOW
from fastpg.pg.evaluation import evaluate_from
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


def greedy_failure_fraction(theta: np.ndarray, run_seed: int, starts: int, params) -> float:
    """The fraction of ``starts`` random starts (uniform in Gymnasium's start box) from which greedy play
    ends before the time limit, in fastpg's kernels."""
    box = np.random.default_rng(777 + run_seed).uniform(RESET_LOW, RESET_HIGH, (starts, 4))
    play = evaluate_from(theta, box, greedy=True, params=params)
    return float((play.lengths < params.max_episode_steps).mean())


def one_seed(args) -> dict:
    seed, overrides, greedy_starts, gymnasium = args
    config = config_from_dict({**overrides, "seed": seed, "final_episodes": 0})
    train(config.replace(seed=0, max_episodes=8))  # load the kernels in this process
    result = train(config)
    row = {"seed": seed, "solved": result.solved_at is not None, "eval_episodes": result.eval_episodes}
    if row["solved"]:
        row.update(episodes=result.solved_at["episodes"], seconds=result.solved_at["seconds"])
        if gymnasium:
            row.update(stochastic=gymnasium_check(result.theta, seed, False),
                       greedy=gymnasium_check(result.theta, seed, True))
        if greedy_starts:
            row.update(greedy_failures=greedy_failure_fraction(result.theta, seed, greedy_starts, config.params))
    return row


def summary(rows: list[dict]) -> str:
    solved = [r for r in rows if r["solved"]]
    if not solved:
        return f"0/{len(rows)} solved"
    eps = [r["episodes"] for r in solved]
    p90 = statistics.quantiles(eps, n=10, method="inclusive")[-1] if len(eps) > 1 else eps[0]
    text = (f"{len(solved)}/{len(rows)} solved; training episodes to solve: median {statistics.median(eps):g}, "
            f"p90 {p90:g}, max {max(eps)}; evaluation episodes: median "
            f"{statistics.median(r['eval_episodes'] for r in solved):g}; median wall time to solve "
            f"{statistics.median(r['seconds'] for r in solved) * 1e3:.1f} ms")
    if "stochastic" in solved[0]:
        text += (f"; independent check >= 475: {sum(r['stochastic'] >= 475 for r in solved)}/{len(solved)}; "
                 f"greedy 500.0: {sum(r['greedy'] == 500.0 for r in solved)}/{len(solved)}")
    if "greedy_failures" in solved[0]:
        fails = [r["greedy_failures"] for r in solved]
        text += (f"; greedy failures from random starts: {sum(p > 0 for p in fails)}/{len(solved)} policies; a "
                 f"100-episode greedy check fails {statistics.fmean(1 - (1 - p) ** 100 for p in fails):.3%} of runs")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="20000-20039", help="seed range FIRST-LAST (default 20000-20039)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override (TOML value syntax), repeatable")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--greedy-starts", type=int, default=0, metavar="N",
                        help="also play the returned θ greedily from N random starts in fastpg's kernels")
    parser.add_argument("--gymnasium-check", action=argparse.BooleanOptionalAction, default=True,
                        help="the independent 100-episode check in Gymnasium (default: on)")
    args = parser.parse_args()
    if args.greedy_starts < 0:
        parser.error("--greedy-starts must be >= 0")
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key] = value
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_seed, [(s, overrides, args.greedy_starts, args.gymnasium_check)
                                         for s in seed_range(args.seeds)]))
    for r in rows:
        line = f"seed {r['seed']}: "
        if not r["solved"]:
            print(line + "not solved")
            continue
        line += (f"solved at {r['episodes']} training episodes ({r['eval_episodes']} evaluation episodes) in "
                 f"{r['seconds'] * 1e3:.1f} ms")
        if "stochastic" in r:
            line += f"; independent check: {r['stochastic']:.2f} stochastic, {r['greedy']:.2f} greedy"
        if "greedy_failures" in r:
            line += f"; greedy fails from {r['greedy_failures']:.2%} of random starts"
        print(line)
    print("\n" + summary(rows))


if __name__ == "__main__":
    main()
