"""Episodes and wall time to solve CartPole-v1 over many seeds, and whether the policy stays solved.

For each seed: train until solved (mean return >= 475 over 100 stochastic episodes, checked after
every update), then train the same run 500 episodes further and evaluate it again on 100 fresh
episodes. Prints one line per seed and a summary. Example:

    .venv/bin/python tools/solve_stats.py --seeds 0-19
    .venv/bin/python tools/solve_stats.py --seeds 10000-10199 --set baseline=per_timestep_running
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from fastpg.training.config import config_from_dict
from fastpg.pg.evaluation import evaluate
from fastpg.training.loop import train


def seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def one_seed(args):
    seed, overrides, extra = args
    config = config_from_dict({**overrides, "seed": seed, "final_episodes": 0})
    train(config.replace(max_episodes=8))  # warm the kernels' cache in this process
    start = time.perf_counter()
    result = train(config)
    wall = time.perf_counter() - start
    if result.solved_at is None:
        return seed, None, wall, None
    episodes = result.solved_at["episodes"]
    later = train(config.replace(stop_at_solve=False, max_episodes=episodes + extra))
    after = evaluate(later.theta, 100, seed + 987654321).mean_return
    return seed, episodes, result.solved_at["seconds"], after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-19", help="seed range FIRST-LAST (default 0-19)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override (TOML value syntax), repeatable")
    parser.add_argument("--extra", type=int, default=500, help="episodes trained after solving (default 500)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args()
    import tomllib

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key] = value
    jobs = [(s, overrides, args.extra) for s in seed_range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one_seed, jobs))
    solved = [r for r in rows if r[1] is not None]
    for seed, episodes, seconds, after in rows:
        print(f"seed {seed}: " + (f"solved at {episodes} episodes in {seconds * 1e3:.1f} ms; "
                                  f"mean return {after:.1f} after {args.extra} more" if episodes else "not solved"))
    eps = [r[1] for r in solved]
    stay = sum(r[3] >= 475 for r in solved)
    print(f"\n{len(solved)}/{len(rows)} solved; episodes to solve: median {statistics.median(eps) if eps else '-'}, "
          f"min {min(eps, default='-')}, max {max(eps, default='-')}; "
          f"median wall time to solve {statistics.median(r[2] for r in solved) * 1e3:.1f} ms; "
          f"still solved {args.extra} episodes later: {stay}/{len(solved)}")


if __name__ == "__main__":
    main()
