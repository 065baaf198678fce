"""Engine speed: rollout + gradient per step against Gymnasium and a C reference, thread scaling, small batches.

Run: ``.venv/bin/python -m pytest bench/bench_engine.py -q --benchmark-columns=median,iqr,rounds``
(about 15 s). After pytest-benchmark's tables and bench/conftest.py's ratio table, a summary sets
each figure against the issue's targets.

Every figure comes from this run, on this machine (the CPU is printed with the tables). Policy:
``THETA`` below, which survives all 500 steps while staying stochastic, so the per-step work is that
of a solved policy and the action branch is unpredictable.

* episode rollout + gradient, one thread (reward-to-go, gamma = 1, Fisher on, as
  ``estimate_gradient`` streams it): fastpg's ``episode_stream`` kernel called from a small njit
  loop over 16 episodes; ``tools/cartpole_ref.c`` on the same 16 episodes, compiled with
  ``gcc -O3 -march=native -ffp-contract=off`` and called through ctypes (its CLI is also run, checked
  against fastpg and its own timer reported); the public ``engine.estimate_gradient(theta, 1, seed)``
  (validation and set-up included); Gymnasium's ``make("CartPole-v1")`` step loop with the policy and
  gradient in plain Python floats (the fair comparator, ``fastpg.benchmark.comparators.python_episode``)
  and, labelled as the slow way, with NumPy arrays for every step's 4 numbers plus the Fisher matrix;
  both fed episode 0's action uniforms so they play fastpg's episode 0 action for action.
* the same without the gradient: Gymnasium's loop with the NumPy policy only, and fastpg's ``play_batch``.
* batched streaming rollout + gradient, m = 256, on 1 thread (the serial kernel) and 2 (the prange kernel).
* a full gradient estimate for a batch of 4 solved episodes (2,000 steps), stored and streaming.

Speed is reported, never asserted (the machines that run this are noisy); what is asserted is that
the implementations compute the same thing: equal episode lengths everywhere, bit-identical
gradients across thread counts and between the njit loop and the public API, C agreeing with
fastpg to 1e-12 relative (bit-identical in practice), Gymnasium's NumPy gradient to 1e-9.
"""

from __future__ import annotations

import subprocess

import gymnasium as gym
import numpy as np
import pytest

from fastpg import _jit
from fastpg.benchmark import cref
from fastpg.pg import _rollout, engine
from fastpg.benchmark.comparators import numpy_per_step_episode, python_episode
from fastpg.benchmark.harness import machine
from fastpg.pg.policy import logit
from fastpg._jit import njit
from fastpg._rng import episode_uniforms
from fastpg.pg._rollout import episode_stream
from fastpg.pg.options import PSI_FROM_START
from fastpg.cartpole.spec import DEFAULT_PARAMS

THETA = np.array([-1.0, -2.0, -20.0, -5.0])  # survives all 500 steps, yet ~98% of its p(left) lie in (0.05, 0.95)
SEED = 0
HORIZON = DEFAULT_PARAMS.max_episode_steps
EPISODES = 16  # episodes per timed call of the single-thread kernels (njit loop, C)
BATCH = 256  # episodes per timed call of the batched kernels

GROUP_EPISODE = "episode + grad, 1 thread"  # group names fit the conftest table
GROUP_PLAY = "episode, policy only"
RESULTS: dict[str, float] = {}  # name -> median seconds per step, for the summary printed at the end
FACTS: dict[str, str] = {}


def batch_start(seed: int, m: int):
    """Initial states float64[m, 4] and stream key of a batch, as the engine draws them."""
    _, _, _, states0, key = engine.batch_start(THETA, m, seed, DEFAULT_PARAMS)
    return states0, key


def episode_zero_uniforms() -> np.ndarray:
    """The action uniforms (float64[HORIZON]) of episode 0 of the one-episode batch with ``SEED``."""
    _, key = batch_start(SEED, 1)
    uniforms = np.empty(HORIZON)
    episode_uniforms(key, 0, uniforms)
    return uniforms


def record(benchmark, name: str, steps: int) -> None:
    """Keep the median seconds per step of a finished benchmark for the summary."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        RESULTS[name] = stats.stats.median / steps


# --- single-thread episode rollout + gradient ------------------------------------------------------------

@njit(cache=False)
def stream_loop(theta, states0, key, params, lengths, grads, fishers):
    """Episodes 0..m-1 one after the other through ``episode_stream`` (reward-to-go, gamma = 1, with Fisher)."""
    rng = np.empty(4, dtype=np.uint64)
    score_sum = np.empty(4)
    steps = 0
    for i in range(states0.shape[0]):
        length, _, _ = episode_stream(theta, states0[i], key, i, params, PSI_FROM_START, 1.0, True, 4, rng, grads[i],
                                      score_sum, fishers[i])
        lengths[i] = length
        steps += length
    return steps


def run_stream_loop(states0, key):
    m, d = states0.shape[0], THETA.shape[0]
    lengths, grads, fishers = np.empty(m, dtype=np.int64), np.empty((m, d)), np.empty((m, d, d))
    stream_loop(THETA, states0, key, DEFAULT_PARAMS.as_array(), lengths, grads, fishers)
    return lengths, grads, fishers


def test_episode_njit_loop(benchmark):
    """``episode_stream`` from an njit loop: the kernel's own cost per step."""
    states0, key = batch_start(SEED, EPISODES)
    params = DEFAULT_PARAMS.as_array()
    lengths, grads, fishers = run_stream_loop(states0, key)
    public = engine.estimate_gradient(THETA, EPISODES, SEED)
    assert np.array_equal(lengths, public.lengths)
    assert grads.tobytes() == public.per_episode.tobytes(), "njit loop and estimate_gradient differ"
    assert (lengths == HORIZON).all(), f"the policy should survive every episode: {lengths}"
    steps = int(lengths.sum())
    benchmark.group = GROUP_EPISODE
    benchmark.extra_info.update(steps=steps, impl="fastpg episode_stream, njit loop", mean_steps=steps / EPISODES)
    benchmark(stream_loop, THETA, states0, key, params, lengths, grads, fishers)
    record(benchmark, "njit", steps)
    FACTS["mean steps"] = f"{steps / EPISODES:.1f}"


def test_episode_estimate_gradient(benchmark):
    """The public API on a batch of one episode, set-up and validation included."""
    estimate = engine.estimate_gradient(THETA, 1, SEED)
    steps = estimate.steps
    assert steps == HORIZON
    benchmark.group = GROUP_EPISODE
    benchmark.extra_info.update(steps=steps, impl="fastpg estimate_gradient m=1")
    benchmark(engine.estimate_gradient, THETA, 1, SEED)
    record(benchmark, "estimate_gradient m=1", steps)


def test_episode_gymnasium_python(benchmark):
    """Gymnasium's step loop (``make`` with its standard wrappers), policy and gradient in Python floats."""
    env = gym.make("CartPole-v1")
    uniforms = episode_zero_uniforms()
    weights, draws = THETA.tolist(), uniforms.tolist()
    length, grad = python_episode(env, weights, draws, SEED)
    ours = engine.estimate_gradient(THETA, 1, SEED)
    assert length == ours.lengths[0] == HORIZON
    assert np.array(grad).tobytes() == ours.per_episode[0].tobytes()  # the same arithmetic, bit for bit
    benchmark.group = GROUP_EPISODE
    benchmark.extra_info.update(steps=length, impl="gymnasium loop + Python floats")
    benchmark(python_episode, env, weights, draws, SEED)
    record(benchmark, "gymnasium", length)


def test_episode_gymnasium_numpy_per_step(benchmark):
    """The slow way: the same loop with NumPy arrays for every step's 4 numbers, and the Fisher matrix."""
    env = gym.make("CartPole-v1")
    uniforms = episode_zero_uniforms()
    length, grad, fisher = numpy_per_step_episode(env, THETA, uniforms, SEED)
    ours = engine.estimate_gradient(THETA, 1, SEED, fisher=True)
    assert length == ours.lengths[0] == HORIZON
    np.testing.assert_allclose(grad, ours.per_episode[0], rtol=1e-9)
    np.testing.assert_allclose(fisher, ours.fisher, rtol=1e-9)
    benchmark.group = GROUP_EPISODE
    benchmark.extra_info.update(steps=length, impl="gymnasium loop + NumPy per step (slow way)")
    benchmark(numpy_per_step_episode, env, THETA, uniforms, SEED)
    record(benchmark, "gymnasium numpy", length)


def gym_episode_policy_only(env, theta, uniforms, seed):
    """The same Gymnasium episode with the NumPy policy alone: no gradient, no Fisher."""
    obs, _ = env.reset(seed=seed)
    t = 0
    while True:
        p = 1.0 / (1.0 + np.exp(-logit(theta, obs)))
        obs, _, terminated, truncated, _ = env.step(0 if uniforms[t] < p else 1)
        t += 1
        if terminated or truncated:
            return t


def test_policy_only_gymnasium(benchmark):
    """The cheaper comparator: Gymnasium's step loop with a NumPy policy and nothing else."""
    env = gym.make("CartPole-v1")
    uniforms = episode_zero_uniforms()
    length = gym_episode_policy_only(env, THETA, uniforms, SEED)
    assert length == engine.estimate_gradient(THETA, 1, SEED).lengths[0]
    benchmark.group = GROUP_PLAY
    benchmark.extra_info.update(steps=length, impl="gymnasium loop + NumPy policy")
    benchmark(gym_episode_policy_only, env, THETA, uniforms, SEED)
    record(benchmark, "gymnasium policy only", length)


def test_policy_only_fastpg(benchmark, threads):
    """fastpg's rollout without gradient (``play_batch_serial``, 1 thread) on the same 16 episodes as the njit loop."""
    play_batch = _rollout.play_batch_serial
    states0, key = batch_start(SEED, EPISODES)
    args = (THETA, states0, key, 0, DEFAULT_PARAMS.as_array(), False, np.empty((EPISODES, 4), np.uint64),
            np.empty(EPISODES, np.int64), np.empty(EPISODES))
    play_batch(*args)
    lengths = args[7]
    assert np.array_equal(lengths, run_stream_loop(states0, key)[0])
    steps = int(lengths.sum())
    benchmark.group = GROUP_PLAY
    benchmark.extra_info.update(steps=steps, impl="fastpg play_batch_serial (no gradient)")
    benchmark(play_batch, *args)
    record(benchmark, "play", steps)


# --- the C reference ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def c_build(tmp_path_factory):
    """``tools/cartpole_ref.c`` built by ``fastpg.cref``; skips without a C compiler."""
    try:
        return cref.build(tmp_path_factory.mktemp("cartpole_ref"))
    except cref.CReferenceUnavailable as exc:
        pytest.skip(str(exc))


def c_input(states0, key) -> str:
    """The CLI's stdin: theta, key, m, then one initial state per line (hex floats, exact)."""
    lines = [" ".join(v.hex() for v in THETA), str(int(key)), str(states0.shape[0])]
    lines += [" ".join(float(v).hex() for v in row) for row in states0]
    return "\n".join(lines) + "\n"


def test_c_reference_cli_agrees(c_build):
    """The C executable on the same episodes: equal lengths, same gradients and Fisher; its own timing."""
    exe = c_build.executable
    states0, key = batch_start(SEED, EPISODES)
    run = subprocess.run([str(exe), "200"], input=c_input(states0, key), capture_output=True, text=True, check=True)
    *rows, timing = run.stdout.splitlines()
    table = np.array([[float(v) for v in row.split()] for row in rows])
    assert table.shape == (EPISODES, 16)
    c_lengths, c_grads, c_fisher_upper = table[:, 1].astype(np.int64), table[:, 2:6], table[:, 6:]
    lengths, grads, fishers = run_stream_loop(states0, key)
    assert np.array_equal(c_lengths, lengths), (c_lengths, lengths)
    rows_, cols_ = np.triu_indices(4)
    upper = fishers[:, rows_, cols_]
    rel = max(np.abs(c_grads - grads).max() / np.abs(grads).max(),
              np.abs(c_fisher_upper - upper).max() / np.abs(upper).max())
    assert rel <= 1e-12, f"C and fastpg gradients differ by {rel:.3g} relative"
    words = timing.split()
    assert words[0] == "ns_per_step"
    RESULTS["C cli"] = float(words[1]) * 1e-9
    FACTS["C vs fastpg"] = "bit-identical" if rel == 0.0 else f"max relative difference {rel:.2g}"
    FACTS["C compiler"] = c_build.compiler


def test_episode_c_reference(benchmark, c_build):
    """``cartpole_ref_run`` (C -O3) through ctypes on the same episodes as the njit loop, timed by pytest-benchmark."""
    run = c_build.function()
    states0, key = batch_start(SEED, EPISODES)
    theta = np.ascontiguousarray(THETA)
    lengths, grads, fishers = np.empty(EPISODES, np.int64), np.empty((EPISODES, 4)), np.empty((EPISODES, 4, 4))
    args = c_build.arguments(theta, key, states0, lengths, grads, fishers)
    steps = run(*args)
    ours = run_stream_loop(states0, key)
    assert np.array_equal(lengths, ours[0]) and steps == ours[0].sum()
    np.testing.assert_allclose(grads, ours[1], rtol=1e-12)
    np.testing.assert_allclose(fishers, ours[2], rtol=1e-12)
    benchmark.group = GROUP_EPISODE
    benchmark.extra_info.update(steps=int(steps), impl="C -O3 reference (ctypes)")
    benchmark(run, *args)
    record(benchmark, "C", int(steps))


# --- batched rollout + gradient, threads --------------------------------------------------------------------

@pytest.fixture
def threads():
    """Restore Numba's thread count after the test."""
    before = _jit.get_num_threads()
    yield
    _jit.set_num_threads(before)


def max_threads() -> int:
    return int(getattr(_jit, "max_threads", None) or _jit.get_num_threads())


@pytest.mark.parametrize("mode", ["1 thread", "2 threads"])
def test_batch_threads(benchmark, threads, mode):
    """``estimate_gradient(theta, 256, seed)`` streaming, on 1 and 2 threads."""
    count = 1 if mode == "1 thread" else 2
    if count > max_threads():
        pytest.skip("Numba has fewer than 2 threads here")
    result = engine.estimate_gradient(THETA, BATCH, SEED, threads=count, fisher=True)
    reference = engine.estimate_gradient(THETA, BATCH, SEED, threads=1, fisher=True)
    for field in ("per_episode", "grad", "fisher", "lengths", "returns"):
        assert getattr(result, field).tobytes() == getattr(reference, field).tobytes(), f"{mode}: {field} differs"
    steps = result.steps
    benchmark.group = f"batch m={BATCH} + gradient"
    benchmark.extra_info.update(steps=steps, impl=f"fastpg estimate_gradient, {mode}", threads=count)
    benchmark(engine.estimate_gradient, THETA, BATCH, SEED, threads=count, fisher=True)
    record(benchmark, f"batch {mode}", steps)
    FACTS["batch steps"] = str(steps)


# --- a small full estimate ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, baseline", [("stored", "per_timestep"), ("streaming", "none")])
def test_batch_of_four(benchmark, mode, baseline):
    """A full gradient estimate from 4 solved episodes (2,000 steps), validation and allocation included."""
    kwargs = {"baseline": baseline, "streaming": mode == "streaming"}
    estimate = engine.estimate_gradient(THETA, 4, SEED, **kwargs)
    assert estimate.steps == 4 * HORIZON
    assert (estimate.batch is not None) == (mode == "stored")
    stored = engine.estimate_gradient(THETA, 4, SEED, streaming=False)
    streamed = engine.estimate_gradient(THETA, 4, SEED, streaming=True)
    np.testing.assert_allclose(stored.grad, streamed.grad, rtol=1e-9)  # same estimator, two summation orders
    benchmark.group = "estimate, 4 episodes"
    benchmark.extra_info.update(steps=estimate.steps, impl=f"fastpg {mode}, baseline {baseline}")
    benchmark(engine.estimate_gradient, THETA, 4, SEED, **kwargs)
    record(benchmark, f"four {mode}, baseline {baseline}", estimate.steps)


# --- summary -----------------------------------------------------------------------------------------------

class _Summary:
    """Prints the engine's figures against the issue's targets after every other terminal summary."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_terminal_summary(self, terminalreporter):
        yield
        if not RESULTS:
            return
        write = terminalreporter.write_line
        r = RESULTS

        def ns(name):
            return f"{r[name] * 1e9:.1f} ns/step, {1 / r[name] / 1e6:.1f} M steps/s" if name in r else "-"

        def ratio(a, b, fmt="{:.2f}x"):
            return fmt.format(r[b] / r[a]) if a in r and b in r else "-"

        four = {k[5:]: v * 4 * HORIZON * 1e6 for k, v in r.items() if k.startswith("four ")}
        rows = [
            ("episode rollout + gradient, njit loop", ns("njit"),
             f"<= 40 ns/step; mean steps {FACTS.get('mean steps', '-')}"),
            ("  estimate_gradient(theta, 1, seed)", ns("estimate_gradient m=1"), "set-up included"),
            ("  Gymnasium step loop + Python floats policy + gradient", ns("gymnasium"), "same episode, same actions"),
            ("  fastpg (njit loop, with Fisher) vs that", ratio("njit", "gymnasium", "{:.0f}x"), ""),
            ("  estimate_gradient m=1 vs that", ratio("estimate_gradient m=1", "gymnasium", "{:.0f}x"), ""),
            ("  Gymnasium step loop + NumPy per step (slow way)", ns("gymnasium numpy"), "not a fair comparator"),
            ("  Gymnasium step loop, NumPy policy only", ns("gymnasium policy only"), "no gradient"),
            ("  fastpg (njit loop) vs that", ratio("njit", "gymnasium policy only", "{:.0f}x"),
             ">= 120x, stricter reading"),
            ("  fastpg play_batch, no gradient", ns("play"), ""),
            ("  C -O3 reference (ctypes)", ns("C"), FACTS.get("C compiler", "")),
            ("  C -O3 reference (its own timer)", ns("C cli"), FACTS.get("C vs fastpg", "")),
            ("  fastpg (njit loop) / C time per step", ratio("C", "njit", "{:.2f}"), "1.0 = as fast as C"),
            ("  fastpg (batch kernel, 1 thread) / C", ratio("C", "batch 1 thread", "{:.2f}"), f"its m={BATCH} batch"),
            (f"batched m={BATCH}, 1 thread", ns("batch 1 thread"), f"{FACTS.get('batch steps', '-')} steps"),
            (f"batched m={BATCH}, 2 threads", ns("batch 2 threads"), "bit-identical results (asserted)"),
            ("  2 threads vs 1 thread", ratio("batch 2 threads", "batch 1 thread"), ">= 1.8x"),
        ]
        rows += [(f"4 episodes (2,000 steps), {k}", f"{v:.1f} us", "well under 200 us") for k, v in four.items()]
        write("")
        write(f"fastpg engine speed, same run: {machine()}; Numba threads {max_threads()}")
        write(f"{'measurement':<56}{'figure':<36}target / note")
        for name, value, note in rows:
            write(f"{name:<56}{value:<36}{note}")


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("fastpg_bench_engine_summary"):
        manager.register(_Summary(), "fastpg_bench_engine_summary")
