"""``fastpg bench``: fastpg against Gymnasium and the C reference, side by side in one process.

Every case does a fixed amount of work per call and says how many env steps that is. Rounds are
interleaved (round r times every case once, in a rotating order), so a slow patch of the machine
hits all cases alike; each round repeats its case until ``min_time`` has passed. Per case the
report gives ns/step at the median, 10th and 90th percentile over rounds, steps/s at the median,
and the ratio to each comparator of its group measured in the same run. On a machine shared with other
jobs, ``clock="cpu"`` (``--clock cpu``) times one-thread groups in thread CPU time.

Groups and cases:

- ``env``: ``gym.make("CartPole-v1").step`` (comparator) and ``gym.make("fastpg/CartPole-v1").step``
  in a Python loop with random actions; fastpg's raw ``cartpole_step`` kernel from Python.
- ``vector``: Gymnasium's ``CartPoleVectorEnv`` (comparator), fastpg's vector env, and EnvPool's /
  gymnax's CartPole-v1 when installed, at each N of ``num_envs``.
- ``batched``: N envs stepped with given random actions, T steps per kernel call, in
  ``fastpg.fast.FastCartPoleBatch``: exact arithmetic and the opt-in fast mode, on 1 and 2
  threads, against Gymnasium's ``CartPoleVectorEnv`` (comparator) at each N of ``num_envs``.
- ``episode``, ``overhead``, ``batch``: the policy-gradient engine (``fastpg.benchmark.pg_cases``):
  rollout + gradient of 16 solved episodes on one thread in fastpg's kernel and in the C reference,
  with and without the Fisher matrix, against Gymnasium's env with Python floats; the fixed cost of
  ``engine.estimate_gradient`` on 4 short episodes; 256 episodes on 1 and 2 threads against
  ``CartPoleVectorEnv`` with NumPy. The report ends with each figure the issue sets a target for.
- ``latency`` (separate): the distribution of single ``step`` calls from Python, p50/p99/p99.9.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from .._jit import get_num_threads, max_threads, set_num_threads
from .._jit import version as numba_version
from ..limits import MAX_BENCH_ENVS, MAX_BENCH_SECONDS
from ..plotting import pyplot, save_png
from ..cartpole.kernels import cartpole_step
from ..cartpole.spec import DEFAULT_PARAMS
from .case import Case
from .pg_cases import Target, batch_cases, episode_cases, overhead_cases, targets

SUITES = ("env", "vector", "batched", "episode", "overhead", "batch", "latency")


@dataclass(frozen=True)
class Result:
    group: str
    name: str
    comparator: bool
    ns_median: float
    ns_p10: float
    ns_p90: float
    steps_per_s: float
    rounds: int
    ratios: dict[str, float]  # comparator label -> comparator time / this time (> 1: faster)


@dataclass(frozen=True)
class Latency:
    name: str
    calls: int
    p50_ns: float
    p99_ns: float
    p999_ns: float
    max_ns: float


def machine() -> str:
    """CPU model, cores and library versions, for the report."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numba {numba_version}, "
            f"numpy {np.__version__}, gymnasium {gym.__version__}")


# --- cases ------------------------------------------------------------------------------------------------

def _step_loop(env, actions):
    def run():
        step, reset = env.step, env.reset
        for action in actions:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                reset()
    return run


def env_cases(steps: int) -> list[Case]:
    actions = [int(a) for a in np.random.default_rng(0).integers(0, 2, steps)]
    cases = []
    for env_id, name, comparator in (("CartPole-v1", "gymnasium make('CartPole-v1').step", True),
                                     ("fastpg/CartPole-v1", "fastpg make('fastpg/CartPole-v1').step", False)):
        env = gym.make(env_id)
        env.reset(seed=0)
        cases.append(Case("env", name, steps, _step_loop(env, actions), comparator))
    state, obs, params = np.zeros(4), np.empty(4, np.float32), DEFAULT_PARAMS.as_array()

    def kernel():
        for action in actions:
            if cartpole_step(state, action, params, obs):
                state[:] = 0.01

    cases.append(Case("env", "fastpg cartpole_step kernel from Python", steps, kernel))
    return cases


def _vector_case(group: str, name: str, env_id: str, actions: np.ndarray, comparator: bool) -> Case:
    """``gym.make_vec(env_id)`` stepped through ``actions`` (calls x N)."""
    env = gym.make_vec(env_id, num_envs=actions.shape[1], vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    return Case(group, name, actions.size, lambda: _step_through(env, actions), comparator)


def _step_through(env, actions) -> None:
    for a in actions:
        env.step(a)


def vector_cases(num_envs: int, calls: int) -> list[Case]:
    actions = np.random.default_rng(0).integers(0, 2, size=(calls, num_envs))
    group = f"vector N={num_envs}"
    cases = [_vector_case(group, "gymnasium CartPoleVectorEnv", "CartPole-v1", actions, True),
             _vector_case(group, "fastpg CartPoleVectorEnv", "fastpg/CartPole-v1", actions, False)]
    try:
        import envpool

        pool = envpool.make_gymnasium("CartPole-v1", num_envs=num_envs, seed=0)
        pool.reset()
        cases.append(Case(group, "envpool CartPole-v1", calls * num_envs, lambda: _step_through(pool, actions)))
    except ImportError:
        pass
    cases += _gymnax_cases(group, num_envs, calls)
    return cases


def _gymnax_cases(group: str, num_envs: int, calls: int) -> list[Case]:
    try:
        import gymnax
        import jax
    except ImportError:
        return []
    env, env_params = gymnax.make("CartPole-v1")
    keys = jax.random.split(jax.random.PRNGKey(0), num_envs)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, env_params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    actions = jax.numpy.asarray(np.random.default_rng(0).integers(0, 2, size=(calls, num_envs)))

    def run():
        s = states
        for a in actions:
            _, s, _, _, _ = step(keys, s, a, env_params)
        jax.block_until_ready(s)

    run()
    return [Case(group, "gymnax CartPole-v1 (jax.jit + vmap)", calls * num_envs, run)]


def batched_cases(num_envs: int, steps: int) -> list[Case]:
    """Exact and fast batched rollouts (one kernel call of ``steps`` steps) vs ``CartPoleVectorEnv``."""
    from ..cartpole.fast import FastCartPoleBatch

    actions = np.random.default_rng(0).integers(0, 2, size=(steps, num_envs), dtype=np.uint8)
    group = f"batched N={num_envs}"
    cases = [_vector_case(group, "gymnasium CartPoleVectorEnv", "CartPole-v1", actions, True)]
    for exact in (True, False):
        for threads in (1, 2) if max_threads >= 2 else (1,):
            batch = FastCartPoleBatch(num_envs, 0, exact=exact, threads=threads)
            name = f"fastpg {'exact' if exact else 'fast mode'} batch rollout, {threads} thread{'s' * (threads > 1)}"
            cases.append(Case(group, name, steps * num_envs, lambda b=batch: b.rollout(actions), threads=threads))
    return cases


# --- measurement ------------------------------------------------------------------------------------------

CLOCKS = ("wall", "cpu")


def measure(cases: list[Case], rounds: int, min_time: float, clock: str = "wall") -> list[Result]:
    """Time every case ``rounds`` times, interleaved; each timing repeats the call for >= ``min_time`` s.

    ``clock="cpu"`` times the groups whose cases all run on one thread with the calling thread's CPU time
    (``time.thread_time``), which leaves out the time a shared machine gives other processes; groups with
    a multi-threaded case keep wall time, so their ratios compare like with like.
    """
    threads = get_num_threads()
    multi = {c.group for c in cases if c.threads > 1}
    try:
        for case in cases:  # warm up: compile, fill caches
            set_num_threads(min(case.threads, max_threads))
            case.run()
        for r in range(rounds):
            for case in cases[r % len(cases):] + cases[: r % len(cases)]:
                set_num_threads(min(case.threads, max_threads))
                now = time.thread_time if clock == "cpu" and case.group not in multi else time.perf_counter
                calls, start = 0, now()
                while True:
                    case.run()
                    calls += 1
                    elapsed = now() - start
                    if elapsed >= min_time:
                        break
                case.samples.append(elapsed / (calls * case.steps))
    finally:
        set_num_threads(threads)
    return [_result(case, cases) for case in cases]


def _result(case: Case, cases: list[Case]) -> Result:
    p10, p50, p90 = np.percentile(case.samples, [10, 50, 90])
    ratios = {} if case.comparator else {c.key: float(np.median(c.samples)) / p50 for c in cases
                                         if c.comparator and c.group == case.group
                                         and (not case.versus or c.key in case.versus)}
    return Result(case.group, case.name, case.comparator, p50 * 1e9, p10 * 1e9, p90 * 1e9, 1.0 / p50,
                  len(case.samples), ratios)


def latency(calls: int) -> list[Latency]:
    """Single ``step`` calls from Python, timed one by one (resetting outside the timed call)."""
    actions = np.random.default_rng(1).integers(0, 2, calls).tolist()
    out = []
    state, obs, params = np.zeros(4), np.empty(4, np.float32), DEFAULT_PARAMS.as_array()
    subjects = [(name, gym.make(env_id)) for name, env_id in (("gymnasium env.step", "CartPole-v1"),
                                                              ("fastpg env.step", "fastpg/CartPole-v1"))]
    for name, env in subjects:
        env.reset(seed=0)
        times = np.empty(calls)
        clock = time.perf_counter_ns
        for i, action in enumerate(actions):
            start = clock()
            _, _, terminated, truncated, _ = env.step(action)
            times[i] = clock() - start
            if terminated or truncated:
                env.reset()
        out.append(_latency(name, times))
    times = np.empty(calls)
    clock = time.perf_counter_ns
    cartpole_step(state, 0, params, obs)
    for i, action in enumerate(actions):
        start = clock()
        done = cartpole_step(state, action, params, obs)
        times[i] = clock() - start
        if done:
            state[:] = 0.01
    out.append(_latency("fastpg cartpole_step kernel", times))
    return out


def _latency(name: str, times: np.ndarray) -> Latency:
    p50, p99, p999 = np.percentile(times, [50, 99, 99.9])
    return Latency(name, times.shape[0], float(p50), float(p99), float(p999), float(times.max()))


# --- running and reporting --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    machine: str
    results: list[Result]
    latencies: list[Latency]
    notes: list[str]
    targets: list[Target]

    def table(self) -> str:
        lines = [f"fastpg bench — {self.machine}; {time.strftime('%Y-%m-%d', time.gmtime())}", ""]
        lines.append(f"{'group':<16}{'case':<58}{'ns/step p50':>12}{'p10':>9}{'p90':>9}{'steps/s':>10}  ratios")
        for r in self.results:
            ratios = ", ".join(f"{v:.2f}x vs {k}" for k, v in r.ratios.items())
            lines.append(f"{r.group:<16}{r.name:<58}{_num(r.ns_median):>12}{_num(r.ns_p10):>9}{_num(r.ns_p90):>9}"
                         f"{r.steps_per_s:>10.3g}  {ratios}")
        if self.latencies:
            lines += ["", f"{'single-step latency from Python':<44}{'p50 ns':>10}{'p99 ns':>10}{'p99.9 ns':>10}"
                          f"{'max ns':>11}"]
            lines += [f"{x.name:<44}{x.p50_ns:>10.0f}{x.p99_ns:>10.0f}{x.p999_ns:>10.0f}{x.max_ns:>11.0f}"
                      for x in self.latencies]
        if self.targets:
            lines += ["", f"{'targets (median over rounds of the paired per-round figure)':<66}{'value':>10}  target"]
            lines += [f"{t.name:<66}{t.value:>9.3g}{t.unit:<2} {t.target}{'' if t.met else '  (not met)'}"
                      for t in self.targets]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"machine": self.machine, "results": [asdict(r) for r in self.results],
                           "latency": [asdict(x) for x in self.latencies], "notes": self.notes,
                           "targets": [asdict(t) for t in self.targets]}, indent=1)

    def plot(self, path) -> Path:
        """A horizontal bar chart of steps/s (log scale), one panel per group, written atomically. Needs matplotlib."""
        plt = pyplot()
        groups = list(dict.fromkeys(r.group for r in self.results))
        fig, axes = plt.subplots(len(groups), 1, figsize=(9, 1.2 + 0.55 * len(self.results)), squeeze=False)
        for ax, group in zip(axes[:, 0], groups):
            rows = [r for r in self.results if r.group == group]
            ax.barh([r.name for r in rows], [r.steps_per_s for r in rows],
                    color=["grey" if r.comparator else "tab:blue" for r in rows])
            ax.set_xscale("log")
            ax.set_title(group, fontsize=9, loc="left")
            ax.tick_params(labelsize=7)
        axes[-1, 0].set_xlabel("env steps per second (median over rounds; grey: comparators)")
        fig.set_dpi(120)
        fig.tight_layout()
        return save_png(fig, path)


def _num(ns: float) -> str:
    return f"{ns:.1f}" if ns < 1e4 else f"{ns:.3g}"


def run_bench(suites=SUITES, num_envs=(64, 16384), rounds: int = 15, min_time: float = 0.02,
              latency_calls: int = 20000, env_steps: int = 2000, vector_calls: int | None = None,
              clock: str = "wall") -> Report:
    """Build the chosen suites' cases, measure them interleaved and return the report."""
    unknown = set(suites) - set(SUITES)
    if unknown:
        raise ValueError(f"unknown suite(s) {sorted(unknown)}; choose from {', '.join(SUITES)}")
    if rounds < 1 or not 0 <= min_time <= MAX_BENCH_SECONDS or latency_calls < 1 or env_steps < 1:
        raise ValueError(f"rounds, latency calls and env steps must be positive and min_time in [0, "
                         f"{MAX_BENCH_SECONDS}] seconds (the limit)")
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; choose from {', '.join(CLOCKS)}")
    if not num_envs or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_BENCH_ENVS
                           for n in num_envs):
        raise ValueError(f"num_envs must be positive integers, at most {MAX_BENCH_ENVS} (the limit), got {num_envs}")
    cases, notes = [], []
    if "env" in suites:
        cases += env_cases(env_steps)
    if "vector" in suites:
        for n in num_envs:
            cases += vector_cases(n, vector_calls or max(2, min(200, 400_000 // n)))
    if "batched" in suites:
        for n in num_envs:
            cases += batched_cases(n, vector_calls or max(2, min(200, 400_000 // n)))
    if "episode" in suites:
        more, why = episode_cases()
        cases += more
        notes += why
    if "overhead" in suites:
        cases += overhead_cases()
    if "batch" in suites:
        cases += batch_cases()
        if max_threads < 2:
            notes.append("only one Numba thread available: no 2-thread batch case")
    results = measure(cases, rounds, min_time, clock) if cases else []
    latencies = latency(latency_calls) if "latency" in suites else []
    if not any(math.isfinite(r.ns_median) for r in results) and not latencies:
        raise ValueError("nothing to measure")
    if clock == "cpu":
        notes.append("one-thread groups timed in the calling thread's CPU time (--clock cpu), the others in wall time")
    return Report(machine(), results, latencies, notes, targets(cases))
