"""The policy-gradient groups of ``fastpg bench`` and the targets read from them.

- ``episode``: one thread, batches of 16 episodes of a solved policy (8,000 steps), 32 batches in turn
  (see :func:`episode_cases`): fastpg's streaming kernel on
  preallocated arrays in the four modes of the C reference (total return or reward to go, with or without
  the Fisher matrix), each against the C reference doing the same work; the public
  ``engine.estimate_gradient``; Gymnasium's env with the policy and gradient in Python floats.
- ``overhead``: 4 short episodes (θ = 0), the kernel alone and ``estimate_gradient``: the API's fixed cost.
- ``batch``: 256 solved episodes in the kernel on 1 and 2 threads, against Gymnasium's
  ``CartPoleVectorEnv`` with the policy and gradient vectorized in NumPy.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from .._jit import max_threads, numba_threads
from .._rng import episode_uniforms
from ..cartpole.spec import DEFAULT_PARAMS
from ..errors import CReferenceUnavailable
from ..pg import engine
from ..pg._rollout import stream_kernel
from ..pg.options import PSI_FROM_START, PSI_TOTAL
from . import cref
from .case import Case
from .comparators import python_episode, vector_batch

SOLVED_THETA = np.array([-0.5, -2.0, -20.0, -5.0])  # survives all 500 steps while staying stochastic
SEED = 2024
ROTATION = 32  # batches the episode group takes in turn
MODES = {"total_return": (PSI_TOTAL, False), "total_return + Fisher": (PSI_TOTAL, True),
         "reward_to_go": (PSI_FROM_START, False), "reward_to_go + Fisher": (PSI_FROM_START, True)}
KERNEL = "fastpg kernel, {}"
API = "fastpg engine.estimate_gradient (API)"
GYM_PYTHON = "gymnasium make('CartPole-v1') + Python floats"
VECTOR = "gymnasium CartPoleVectorEnv + NumPy"


def kernel_case(group: str, name: str, theta, episodes: int, mode: str = "reward_to_go", threads: int = 1,
                seeds: tuple[int, ...] = (SEED,), **extra) -> Case:
    """fastpg's streaming kernel for ``mode`` on preallocated arrays, one batch per seed in turn.

    ``run()`` plays the next seed's batch and returns the gradients it wrote; every batch must have the
    same number of steps.
    """
    psi, fisher = MODES[mode]
    m, d = episodes, theta.shape[0]
    kernel = stream_kernel(psi, fisher, d, threads > 1)  # the kernel estimate_gradient runs
    batches = []
    for seed in seeds:
        _, _, params, states0, key = engine.batch_start(theta, episodes, seed, DEFAULT_PARAMS)
        grads, lengths = np.empty((m, d)), np.empty(m, np.int64)
        args = (theta, states0, key, params, 1.0, np.empty((m, 4), np.uint64), grads, np.empty((m, d)),
                np.empty((m, d, d) if fisher else (m, 0, 0)), lengths, np.empty(m), np.empty(m))
        kernel(*args)
        batches.append(args)
    steps = {int(args[9].sum()) for args in batches}
    if len(steps) != 1:
        raise RuntimeError(f"the batches of seeds {seeds} have different numbers of steps: {sorted(steps)}")
    turn = itertools.cycle(batches)

    def run():
        args = next(turn)
        kernel(*args)
        return args[6]

    return Case(group, name, steps.pop(), run, threads=threads, **extra)


def _python_episodes(theta, key, episodes: int):
    """Gymnasium's env and Python floats over fastpg's batch; ``run()`` returns (steps, gradients)."""
    env = gym.make("CartPole-v1")
    weights = theta.tolist()
    uniforms = np.empty((episodes, DEFAULT_PARAMS.max_episode_steps))
    for i in range(episodes):
        episode_uniforms(key, i, uniforms[i])
    rows = uniforms.tolist()

    def run():
        out = [python_episode(env, weights, rows[i], SEED if i == 0 else None) for i in range(episodes)]
        return sum(n for n, _ in out), np.array([g for _, g in out])

    return run


def episode_cases(episodes: int = 16, c_dir: str | None = None) -> tuple[list[Case], list[str]]:
    """The single-thread episode group; returns the cases and notes (e.g. why the C reference is missing).

    fastpg's kernels, the API and the C reference take the ``ROTATION`` batches of seeds SEED, SEED + 1, ...
    in turn, so neither side replays episodes the CPU has learned (on the AMD EPYC one 16-episode batch
    replayed over and over ran ~28 ns/step, fresh batches ~39, in C and in fastpg alike; README "Speed").
    The Python comparator, ~200x slower, plays the first batch only.
    """
    theta, notes, seeds = SOLVED_THETA, [], tuple(range(SEED, SEED + ROTATION))
    ours = {mode: kernel_case("episode", KERNEL.format(mode), theta, episodes, mode, seeds=seeds,
                              versus=(f"C {mode}",)) for mode in MODES}
    starts = [engine.batch_start(theta, episodes, seed, DEFAULT_PARAMS)[3:] for seed in seeds]
    python = _python_episodes(theta, starts[0][1], episodes)
    steps, grads = python()
    if steps != ours["reward_to_go"].steps or grads.tobytes() != ours["reward_to_go"].run().tobytes():
        raise RuntimeError("Gymnasium with Python floats and fastpg played different episodes")
    cases = [Case("episode", GYM_PYTHON, steps, python, comparator=True, label="Gymnasium+Python")]
    ours["reward_to_go"].versus += ("Gymnasium+Python",)
    try:
        reference = cref.build(c_dir or tempfile.mkdtemp(prefix="fastpg-cref-"))
        function = reference.function()
        for mode, case in ours.items():
            batches = []
            for states0, key in starts:
                out = (np.empty(episodes, np.int64), np.empty((episodes, 4)), np.zeros((episodes, 4, 4)))
                arguments = reference.arguments(theta, key, states0, *out, cref.MODES[mode])
                function(*arguments)
                batches.append((arguments, (states0, out)))
            fastpg_grads = {case.run().tobytes() for _ in seeds}  # one turn of the rotation, from wherever it is
            if fastpg_grads != {out[1].tobytes() for _, (_, out) in batches}:
                raise CReferenceUnavailable(f"the C reference disagrees with fastpg ({mode})")
            turn = itertools.cycle(batches)
            cases.append(Case("episode", f"C reference, {mode} ({reference.compiler})", case.steps,
                              lambda turn=turn, keep=theta: function(*next(turn)[0]), comparator=True,
                              label=f"C {mode}"))
    except CReferenceUnavailable as exc:
        notes.append(f"C reference skipped: {exc}")
        for case in ours.values():
            case.versus = tuple(v for v in case.versus if not v.startswith("C "))
    cases += list(ours.values())
    api_seeds = itertools.cycle(seeds)
    cases.append(Case("episode", API, ours["reward_to_go"].steps,
                      lambda: engine.estimate_gradient(theta, episodes, next(api_seeds), streaming=True),
                      versus=("C reward_to_go", "Gymnasium+Python")))
    return cases, notes


def overhead_cases(episodes: int = 4) -> list[Case]:
    """A batch of short episodes (θ = 0): the kernel alone (comparator) and ``estimate_gradient``."""
    theta = np.zeros(4)
    kernel = kernel_case("overhead", f"fastpg kernel, {episodes} short episodes", theta, episodes, comparator=True,
                         label="kernel")
    api = Case("overhead", f"{API}, {episodes} short episodes", kernel.steps,
               lambda: engine.estimate_gradient(theta, episodes, SEED, streaming=True))
    return [kernel, api]


def batch_cases(episodes: int = 256) -> list[Case]:
    """``episodes`` solved episodes: CartPoleVectorEnv + NumPy (comparator), fastpg's kernel on 1 and 2 threads."""
    theta = SOLVED_THETA
    _, _, _, states0, key = engine.batch_start(theta, episodes, SEED, DEFAULT_PARAMS)
    uniforms = np.empty((episodes, DEFAULT_PARAMS.max_episode_steps))
    for i in range(episodes):
        episode_uniforms(key, i, uniforms[i])
    env = CartPoleVectorEnv(num_envs=episodes)
    cases = [kernel_case("batch", f"fastpg kernel, {episodes} episodes, {n} thread{'s' * (n > 1)}", theta, episodes,
                         threads=n) for n in ((1, 2) if max_threads >= 2 else (1,))]
    lengths, _ = vector_batch(env, theta, uniforms, states0)
    if int(lengths.sum()) != cases[0].steps:
        raise RuntimeError("CartPoleVectorEnv with NumPy and fastpg played different episodes")
    return [Case("batch", f"{VECTOR}, {episodes} columns", cases[0].steps,
                 lambda: vector_batch(env, theta, uniforms, states0), comparator=True,
                 label="CartPoleVectorEnv+NumPy")] + cases


@dataclass(frozen=True)
class Target:
    """One figure the issue sets a target for, from paired rounds: ``value`` against ``target`` (text)."""

    name: str
    value: float
    unit: str
    target: str
    met: bool | None


def targets(cases: list[Case]) -> list[Target]:
    """The ratios and the fixed overhead, each the median over rounds of the paired per-round figure."""
    by_name = {c.name: c for c in cases}
    out = []

    def paired(a: Case, b: Case) -> float:  # a's time / b's time, median over rounds
        return float(np.median(np.array(a.samples) / np.array(b.samples)))

    for mode in MODES:
        ours, c = by_name.get(KERNEL.format(mode)), next((x for x in cases if x.label == f"C {mode}"), None)
        if ours is not None and c is not None:
            limit = 1.05 if "Fisher" in mode else 1.0
            value = paired(ours, c)
            out.append(Target(f"kernel / C time per step, {mode}", value, "x", f"<= {limit:.2f}", value <= limit))
    kernel, api = by_name.get(KERNEL.format("reward_to_go")), by_name.get(API)
    if kernel is not None and api is not None:
        value = paired(api, kernel)
        out.append(Target("estimate_gradient / kernel, 16 solved episodes", value, "x", "<= 1.05", value <= 1.05))
    short = [c for c in cases if c.group == "overhead"]
    if len(short) == 2:
        kernel, api = short
        value = float(np.median((np.array(api.samples) - np.array(kernel.samples)) * api.steps)) * 1e6
        out.append(Target("estimate_gradient fixed overhead per call, 4 short episodes", value, "us", "<= 10",
                          value <= 10))
    batch = [c for c in cases if c.group == "batch" and not c.comparator]
    if len(batch) == 2:
        one, two = batch
        value = paired(one, two)
        with numba_threads(one.threads):
            first = one.run().tobytes()
        with numba_threads(two.threads):
            identical = two.run().tobytes() == first
        out.append(Target(f"256 episodes, 2 threads vs 1 ({'bit-identical' if identical else 'RESULTS DIFFER'})",
                          value, "x", ">= 1.9", value >= 1.9 and identical))
    return out
