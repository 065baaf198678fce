"""The batched SoA kernels: exact mode bit for bit, fast mode's measured deviation, bookkeeping, inputs, bench smoke."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from fastpg._jit import njit, types
from fastpg.cartpole._fast import (
    FAST_ANGLE_LIMIT, REFILL_EVERY, batch_reset, batch_rollout, batch_step, fast_constants, fast_dynamics, fast_sincos,
)
from fastpg.cartpole.kernels import PARAMS_TYPE, cartpole_dynamics
from fastpg.cartpole.spec import NUM_PARAMS
from fastpg._jit import max_threads
from fastpg.cartpole.kernels import cartpole_step_batch
from fastpg._rng import episode_uniforms
from fastpg.errors import InvalidActionError
from fastpg.cartpole.fast import FastCartPoleBatch
from fastpg.cartpole.spec import DEFAULT_PARAMS, CartPoleParams, make_params

SEMI = make_params(kinematics_integrator="semi-implicit euler", sutton_barto_reward=True, max_episode_steps=40)
CASES = {  # (params, low, high): Gymnasium's defaults; short episodes with truncation (exercises STALE resets)
    "default": (DEFAULT_PARAMS, -0.05, 0.05),
    "short": (make_params(max_episode_steps=9), -0.2, 0.2),
    "semi-implicit, Sutton-Barto": (SEMI, -0.1, 0.1),
}



# Kernels only the tests use: one step of either mode, and the fast sin/cos, over columns.
@njit(types.void(types.boolean, types.float64[:, ::1], types.uint8[::1], PARAMS_TYPE))
def dynamics_step(exact, state, actions, params):
    """Advance each column of ``state`` (float64[4, N]) by one step: no termination, counters or resets.

    For comparing the two modes state by state. Raises ``ValueError`` on a shape mismatch, an
    action outside {0, 1}, or, in fast mode, a column with ``|angle| > FAST_ANGLE_LIMIT``.
    """
    n = state.shape[1]
    if state.shape[0] != 4 or actions.shape[0] != n or params.shape[0] != NUM_PARAMS:
        raise ValueError("dynamics_step: expected state (4, N), actions (N,)")
    if n and (actions.max() > 1 or (not exact and np.abs(state[2]).max() > FAST_ANGLE_LIMIT)):
        raise ValueError("dynamics_step: actions must be 0 or 1, and fast mode needs |angle| <= FAST_ANGLE_LIMIT")
    k = fast_constants(params)
    for i in range(n):
        if exact:
            stepped = cartpole_dynamics(state[0, i], state[1, i], state[2, i], state[3, i], actions[i], params)
        else:
            stepped = fast_dynamics(state[0, i], state[1, i], state[2, i], state[3, i], float(actions[i]), k)
        for c in range(4):
            state[c, i] = stepped[c]


@njit(types.void(types.float64[::1], types.float64[:, ::1]))
def sincos_batch(angle, out):
    """out[0] = sin(angle), out[1] = cos(angle) by :func:`fast_sincos` (float64[N] -> float64[2, N]).

    At most 1 ulp from sin/cos for ``|angle| <= FAST_ANGLE_LIMIT``; the range is not checked.
    """
    if out.shape[0] != 2 or out.shape[1] != angle.shape[0]:
        raise ValueError("sincos_batch: out must have shape (2, N)")
    for i in range(angle.shape[0]):
        out[0, i], out[1, i] = fast_sincos(angle[i])


def reference_episodes(num_envs, seed, actions, params, low, high):
    """Yield (state, terminated, truncated, final) per step, from the exact scalar kernel and the documented streams."""
    key = np.uint64(np.random.default_rng(seed).bit_generator.random_raw())
    uniforms = np.empty((num_envs, 4 * (len(actions) + 1)))
    for i in range(num_envs):
        episode_uniforms(key, i, uniforms[i])
    states = low + (high - low) * uniforms[:, :4]
    resets, counts = np.ones(num_envs, dtype=np.int64), np.zeros(num_envs, dtype=np.int64)
    terminated = np.empty(num_envs, dtype=np.bool_)
    for a in actions:
        cartpole_step_batch(states, a.astype(np.int64), params.as_array(), terminated)
        counts += 1
        truncated = counts >= params.max_episode_steps
        done = terminated | truncated
        final = states[done].copy()
        for i in np.flatnonzero(done):
            states[i] = low + (high - low) * uniforms[i, 4 * resets[i]:4 * resets[i] + 4]
            resets[i] += 1
            counts[i] = 0
        yield states.copy(), terminated.copy(), truncated, final


@pytest.mark.nojit
@pytest.mark.parametrize("case", CASES)
def test_exact_mode_is_the_exact_kernel_with_documented_resets(case):
    params, low, high = CASES[case]
    n, steps = 7, 300
    actions = np.random.default_rng(3).integers(0, 2, (steps, n), dtype=np.uint8)
    batch = FastCartPoleBatch(n, 11, params=params, exact=True, low=low, high=high)
    finished = 0
    for t, (state, terminated, truncated, final) in enumerate(reference_episodes(n, 11, actions, params, low, high)):
        obs, rewards, term, trunc = batch.step(actions[t])
        assert obs.tobytes() == state.tobytes(), f"state at step {t}"
        assert (term == terminated).all() and (trunc == truncated).all(), f"flags at step {t}"
        assert batch.final_observations[term | trunc].tobytes() == final.tobytes(), f"final obs at step {t}"
        expected = -term.astype(np.float32) if params.sutton_barto_reward else np.ones(n, np.float32)
        assert rewards.tobytes() == expected.tobytes()
        finished += (term | trunc).sum()
    assert finished > 2 * n and (batch.episode_steps < params.max_episode_steps).all()


def run_kernels(exact, num_envs, actions, nchunks, block=None, refill_every=REFILL_EVERY, seed=5):
    """Step with the raw kernels; with ``block``, one rollout call. Returns (episodes finished, state, step counts).

    (The streams in ``rng`` end further along when a refill drew ahead, so they are not compared.)
    """
    params = DEFAULT_PARAMS.as_array()
    state, nxt, rng = np.empty((4, num_envs)), np.empty((4, num_envs)), np.empty((4, num_envs), dtype=np.uint64)
    steps = np.zeros(num_envs, dtype=np.int32)
    batch_reset(state, nxt, steps, rng, np.uint64(seed), -0.05, 0.05, nchunks)
    if block is not None:
        finished = batch_rollout(exact, state, nxt, steps, rng, actions, params, -0.05, 0.05, nchunks, block)
    else:
        finished = 0
        flags, final = np.empty((2, num_envs), dtype=np.bool_), np.empty((4, num_envs))
        for t, a in enumerate(actions):
            finished += batch_step(exact, state, nxt, steps, rng, a, params, -0.05, 0.05,
                                   refill_every > 0 and t % refill_every == 0, nchunks, flags[0], flags[1], final)
    return finished, state, steps & ((1 << 30) - 1)


@pytest.mark.nojit
@pytest.mark.parametrize("exact", [False, True])
def test_rollout_chunks_blocks_and_refills_give_identical_results(exact):
    actions = np.random.default_rng(0).integers(0, 2, (120, 37), dtype=np.uint8)
    reference = run_kernels(exact, 37, actions, nchunks=1)
    variants = [run_kernels(exact, 37, actions, nchunks=3, block=5), run_kernels(exact, 37, actions, 1, block=512),
                run_kernels(exact, 37, actions, nchunks=4), run_kernels(exact, 37, actions, 2, refill_every=0),
                run_kernels(exact, 37, actions, nchunks=1, refill_every=1)]
    assert reference[0] > 100
    for variant in variants:
        assert variant[0] == reference[0]
        for ours, theirs in zip(variant[1:], reference[1:]):
            assert ours.tobytes() == theirs.tobytes()


@pytest.mark.skipif(max_threads < 2, reason="needs 2 Numba threads")
@pytest.mark.parametrize("exact", [False, True])
def test_two_threads_bit_identical(exact):
    actions = np.random.default_rng(1).integers(0, 2, (50, 1001), dtype=np.uint8)
    one, two = (FastCartPoleBatch(1001, 4, exact=exact, threads=k) for k in (1, 2))
    assert one.rollout(actions) == two.rollout(actions)
    for a in actions[:20]:
        assert all(x.tobytes() == y.tobytes() for x, y in zip(one.step(a), two.step(a)))
    assert one.observations.tobytes() == two.observations.tobytes()


@pytest.mark.nojit
def test_step_and_rollout_agree_and_reset_reseeds():
    actions = np.random.default_rng(2).integers(0, 2, (64, 50), dtype=np.uint8)
    stepped, rolled = FastCartPoleBatch(50, 8), FastCartPoleBatch(50, 8)
    finished = sum(int((t | u).sum()) for _, _, t, u in (stepped.step(a) for a in actions))
    assert rolled.rollout(actions) == finished
    assert stepped.observations.tobytes() == rolled.observations.tobytes()
    first = stepped.reset(seed=9).copy()
    assert FastCartPoleBatch(50, 9).observations.tobytes() == first.tobytes()
    assert stepped.reset().tobytes() != first.tobytes() and (stepped.episode_steps == 0).all()


def test_fast_sincos_within_one_ulp_over_its_range():
    theta = np.concatenate([np.linspace(-FAST_ANGLE_LIMIT, FAST_ANGLE_LIMIT, 200_001),
                            np.random.default_rng(0).uniform(-FAST_ANGLE_LIMIT, FAST_ANGLE_LIMIT, 200_000),
                            [0.0, -0.0, 5e-324, -1e-300, 1e-8, 0.2094395102393195]])
    out = np.empty((2, theta.size))
    sincos_batch(theta, out)
    for k, exact in enumerate((np.array([math.sin(t) for t in theta]), np.array([math.cos(t) for t in theta]))):
        assert (np.signbit(out[k]) == np.signbit(exact)).all()
        ulps = np.abs(out[k].view(np.int64) - exact.view(np.int64))
        relative = np.abs(out[k] - exact)[exact != 0] / np.abs(exact[exact != 0])
        assert ulps.max() <= 1 and relative.max() <= 1e-15, (k, ulps.max(), relative.max())
        assert (ulps == 0).mean() > 0.9  # mostly the correctly rounded value itself
    assert math.copysign(1.0, out[0][theta.size - 5]) == -1.0  # sin(-0.0) = -0.0


def term_scale(state, params):
    """Per component, the magnitude of the terms one exact step sums (|s| + tau |ds/dt| with |.| on every term)."""
    x, x_dot, theta, theta_dot = state
    sin, cos = np.abs(np.sin(theta)), np.abs(np.cos(theta))
    temp = (params.force_mag + params.polemass_length * theta_dot**2 * sin) / params.total_mass
    denominator = params.length * (4 / 3 - params.masspole * cos**2 / params.total_mass)
    thetaacc = (params.gravity * sin + cos * temp) / denominator
    v_x = np.abs(x_dot) + params.tau * (temp + params.polemass_length * thetaacc * cos / params.total_mass)
    v_theta = np.abs(theta_dot) + params.tau * thetaacc
    if params.integrator == 1:
        return np.stack([np.abs(x) + params.tau * v_x, v_x, np.abs(theta) + params.tau * v_theta, v_theta])
    return np.stack([np.abs(x) + params.tau * np.abs(x_dot), v_x, np.abs(theta) + params.tau * np.abs(theta_dot),
                     v_theta])


@pytest.mark.parametrize("params", [DEFAULT_PARAMS, SEMI], ids=["euler", "semi-implicit"])
def test_fast_step_deviation_over_the_state_space(params):
    """One step from x in +-2.4, velocities in +-10, theta in +-pi/4 (fast mode's range): grid and random sample."""
    g = np.linspace(0.0, 1.0, 21)
    grid = np.stack([c.ravel() for c in np.meshgrid(4.8 * g - 2.4, 20 * g - 10, 2 * FAST_ANGLE_LIMIT * g
                                                    - FAST_ANGLE_LIMIT, 20 * g - 10, indexing="ij")])
    rng = np.random.default_rng(7)
    sample = rng.uniform([[-2.4], [-10], [-FAST_ANGLE_LIMIT], [-10]], [[2.4], [10], [FAST_ANGLE_LIMIT], [10]],
                         (4, 300_000))
    states = np.ascontiguousarray(np.concatenate([grid, grid, sample], axis=1))
    actions = np.concatenate([np.zeros(grid.shape[1]), np.ones(grid.shape[1]), rng.integers(0, 2, 300_000)])
    actions = actions.astype(np.uint8)
    fast, exact = states.copy(), states.copy()
    dynamics_step(False, fast, actions, params.as_array())
    dynamics_step(True, exact, actions, params.as_array())
    difference = np.abs(fast - exact)
    relative = np.divide(difference, term_scale(states, params), out=np.zeros_like(difference), where=difference > 0)
    assert relative.max() <= 1e-13, relative.max(axis=1)
    assert relative.max() <= 4 * np.finfo(float).eps  # what it is: a few ulps of the terms
    assert (difference == 0).mean() > 0.9


def first_episode_lengths(batch, rng, limit=500):
    """Length of each env's first episode under uniformly random actions drawn from ``rng``."""
    lengths = np.zeros(batch.num_envs, dtype=np.int64)
    for t in range(limit):
        _, _, terminated, truncated = batch.step(rng.integers(0, 2, batch.num_envs, dtype=np.uint8))
        new = (terminated | truncated) & (lengths == 0)
        lengths[new] = t + 1
        if lengths.all():
            return lengths
    raise AssertionError("episodes did not finish")


def chi_square_p(a, b):
    """p-value of Pearson's chi-square test that two samples of integers share a distribution (cells >= 5 merged)."""
    values = np.union1d(a, b)
    counts = np.stack([np.bincount(np.searchsorted(values, s), minlength=values.size) for s in (a, b)])
    merged, cell = [], np.zeros(2)
    for column in counts.T:  # merge adjacent lengths until each pooled cell expects >= 5 per sample
        cell = cell + column
        if cell.sum() * min(len(a), len(b)) / (len(a) + len(b)) >= 5:
            merged.append(cell)
            cell = np.zeros(2)
    merged[-1] = merged[-1] + cell
    table = np.array(merged).T
    expected = table.sum(0) * table.sum(1)[:, None] / table.sum()
    statistic = ((table - expected) ** 2 / expected).sum()
    return regularized_upper_gamma((table.shape[1] - 1) / 2, statistic / 2), table.shape[1] - 1


def regularized_upper_gamma(s, x):
    """Q(s, x) = Gamma(s, x) / Gamma(s): series below s + 1, Lentz continued fraction above (Numerical Recipes)."""
    if x < s + 1:
        term = total = 1.0 / s
        for k in range(1, 1000):
            term *= x / (s + k)
            total += term
        return 1.0 - total * math.exp(-x + s * math.log(x) - math.lgamma(s))
    b, c, d = x + 1 - s, 1e300, 1 / (x + 1 - s)
    h = d
    for k in range(1, 1000):
        a = -k * (k - s)
        b += 2
        d = 1 / (a * d + b)
        c = b + a / c
        h *= d * c
    return math.exp(-x + s * math.log(x) - math.lgamma(s)) * h


def test_episode_lengths_match_exact_mode():
    """10,000 first episodes under random actions: paired (same seeds) and independent (two-sample chi-square)."""
    n = 10_000
    fast = first_episode_lengths(FastCartPoleBatch(n, 21), np.random.default_rng(22))
    exact = first_episode_lengths(FastCartPoleBatch(n, 21, exact=True), np.random.default_rng(22))
    assert (fast == exact).mean() >= 0.999, (fast != exact).sum()  # same starts, same actions: same lengths
    other = first_episode_lengths(FastCartPoleBatch(n, 23, exact=True), np.random.default_rng(24))
    p, dof = chi_square_p(fast, other)
    assert p > 0.01 and dof >= 20, (p, dof)
    assert abs(fast.mean() - other.mean()) < 4 * math.sqrt((fast.var() + other.var()) / n)


@pytest.mark.nojit
def test_bad_input():
    with pytest.raises(ValueError, match="num_envs"):
        FastCartPoleBatch(0)
    with pytest.raises(TypeError, match="num_envs"):
        FastCartPoleBatch(2.0)
    with pytest.raises(ValueError, match="seed"):
        FastCartPoleBatch(2, -1)
    with pytest.raises(ValueError, match="threads"):
        FastCartPoleBatch(2, threads=max_threads + 1)
    with pytest.raises(TypeError, match="exact"):
        FastCartPoleBatch(2, exact=1)
    with pytest.raises(TypeError, match="params"):
        FastCartPoleBatch(2, params={"gravity": 9.8})
    with pytest.raises(ValueError, match="low < high"):
        FastCartPoleBatch(2, low=0.1, high=0.1)
    with pytest.raises(ValueError, match="finite"):
        FastCartPoleBatch(2, high=math.inf)
    wide = CartPoleParams(theta_threshold_radians=1.0)
    for kwargs in ({"params": wide}, {"low": -1.0, "high": 1.0}):
        with pytest.raises(ValueError, match="pi/4"):
            FastCartPoleBatch(2, **kwargs)
        FastCartPoleBatch(2, exact=True, **kwargs)  # exact mode has no such limit
    batch = FastCartPoleBatch(3)
    before = batch.observations.copy()
    for actions, error in (([0, 1], ValueError), ([[0, 1, 1]], ValueError), ([0.0, 1.0, 1.0], TypeError),
                           ([0, 2, 1], InvalidActionError), ([0, -1, 1], InvalidActionError),
                           (np.array([0, 2, 1], np.uint8), ValueError)):
        with pytest.raises(error):
            batch.step(np.asarray(actions))
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        batch.rollout(np.zeros(3, np.uint8))
    with pytest.raises(ValueError):
        batch.rollout(np.full((4, 3), 7, np.uint8))
    assert batch.observations.tobytes() == before.tobytes()  # nothing moved
    assert batch.step(np.array([True, False, True]))[0] is batch.observations
    with pytest.raises(ValueError, match="read-only"):
        batch.observations[0, 0] = 1.0


def test_kernels_reject_bad_arrays():
    state, nxt, rng = np.zeros((4, 3)), np.zeros((4, 3)), np.zeros((4, 3), np.uint64)
    steps, flags, final = np.zeros(3, np.int32), np.zeros(3, np.bool_), np.zeros((4, 3))
    params = DEFAULT_PARAMS.as_array()
    with pytest.raises(ValueError, match="shapes"):
        batch_step(False, state, nxt, steps[:2], rng, np.zeros(3, np.uint8), params, -0.05, 0.05, True, 1, flags, flags,
                   final)
    with pytest.raises(ValueError, match="FAST_ANGLE_LIMIT"):
        batch_rollout(False, state, nxt, steps, rng, np.zeros((1, 3), np.uint8), params, -1.0, 1.0, 1, 8)
    with pytest.raises(ValueError, match="FAST_ANGLE_LIMIT"):
        dynamics_step(False, np.full((4, 3), 1.0), np.zeros(3, np.uint8), params)
    with pytest.raises(TypeError):
        dynamics_step(False, np.zeros((4, 3), np.float32), np.zeros(3, np.uint8), params)
    for kernel in (batch_step, batch_rollout, batch_reset, dynamics_step, sincos_batch):
        assert len(kernel.signatures) == 1  # one explicit specialization each


class _Benchmark:
    """Stands in for pytest-benchmark's fixture: one call, no timing."""

    def __init__(self):
        self.group, self.extra_info = None, {}

    def __call__(self, function, *args, **kwargs):
        return function(*args, **kwargs)


def test_bench_fast_functions_run_and_report(monkeypatch):
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_fast.py"
    spec = importlib.util.spec_from_file_location("bench_fast", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "STEPS_PER_CALL", 4096)
    for impl in bench.IMPLS:
        benchmark = _Benchmark()
        try:
            bench.test_rollout(benchmark, impl, 256)
        except pytest.skip.Exception:
            assert "2 threads" in impl
            continue
        assert benchmark.extra_info["impl"] == impl and benchmark.extra_info["steps"] > 0
        assert benchmark.group == "rollout N=256"
