"""Evaluation in fastpg's kernels against Gymnasium's own env; the natural-gradient step; configs."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from fastpg import make_params
from fastpg.pg import engine, options
from fastpg.training.config import FIELDS, TrainConfig, config_from_dict, load_config
from fastpg.training.loop import train
from fastpg._rng import episode_uniforms
from fastpg.cartpole.spec import start_lattice
from fastpg.pg.evaluation import (
    evaluate, evaluate_from, evaluate_in_gymnasium, evaluate_in_gymnasium_modes, gymnasium_env,
)
from fastpg.pg.policy import act_scalar, logit_scalar
from fastpg.pg.natural import mean_kl, natural_step

GOOD = np.array([-0.2, -1.0, -10.0, -3.0])


@pytest.mark.parametrize("theta", [GOOD, np.append(GOOD, 0.4), np.array([0.1, 0.5, 0.8, 0.3])])
@pytest.mark.parametrize("greedy", [False, True])
@pytest.mark.parametrize("params", [make_params(), make_params("v0", kinematics_integrator="semi-implicit euler")])
def test_fastpg_and_gymnasium_evaluations_are_identical(theta, greedy, params):
    fast = evaluate(theta, 12, 5, greedy=greedy, params=params)
    slow = evaluate_in_gymnasium(theta, 12, 5, greedy=greedy, params=params)
    assert fast.returns.tolist() == slow.returns.tolist() and fast.lengths.tolist() == slow.lengths.tolist()
    assert evaluate(theta, 12, 5, greedy=greedy, params=params, threads=2).returns.tolist() == \
        fast.returns.tolist()


def test_stop_below_stops_exactly_when_the_target_is_out_of_reach():
    full = evaluate(GOOD, 100, 1)
    quick = evaluate(GOOD, 100, 1, stop_below=499.0)
    n = len(quick.returns)
    assert quick.returns.tolist() == full.returns[:n].tolist()
    assert not quick.complete and not quick.solved(499.0)
    assert full.returns[:n].sum() + (100 - n) * 500 < 499.0 * 100 <= full.returns[: n - 1].sum() + (101 - n) * 500
    assert evaluate(GOOD, 100, 1, stop_below=-1.0).returns.tolist() == full.returns.tolist()


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"episodes": 0}, ValueError), ({"episodes": 2.0}, TypeError), ({"seed": -1}, ValueError),
    ({"stop_below": float("nan")}, ValueError), ({"margin_se": -1.0}, ValueError), ({"margin_se": True}, ValueError),
])
def test_evaluate_bad_input(kwargs, error):
    with pytest.raises(error):
        evaluate(GOOD, **{"episodes": 3, **kwargs})


def test_start_lattice_spans_the_start_box():
    lattice = start_lattice(3)
    assert lattice.shape == (81, 4) and lattice.dtype == np.float64 and lattice.flags.c_contiguous
    assert lattice[0].tolist() == [-0.05] * 4 and lattice[40].tolist() == [0.0] * 4 and lattice[80].tolist() == [0.05] * 4
    assert lattice[1].tolist() == [-0.05, -0.05, -0.05, 0.0]  # the last coordinate varies fastest
    assert sorted(map(tuple, lattice.tolist())) == sorted(itertools.product([-0.05, 0.0, 0.05], repeat=4))
    assert start_lattice(2).tolist() == [list(c) for c in itertools.product([-0.05, 0.05], repeat=4)]
    assert start_lattice(1).tolist() == [[0.0] * 4]
    assert start_lattice(np.int64(2)).shape == (16, 4)
    for bad, error in ((0, ValueError), (32, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="levels"):
            start_lattice(bad)


def test_seeded_uniforms_are_numpys_draws():
    assert engine.seeded_uniforms(7, 11).tolist() == np.random.default_rng(11).uniform(0.0, 1.0, (7, 4)).tolist()
    assert engine.seeded_uniforms(3, 2, -2.0, 5.0).tolist() == \
        np.random.default_rng(2).uniform(-2.0, 5.0, (3, 4)).tolist()
    for kwargs, error in (({"rows": 0}, ValueError), ({"low": math.nan}, ValueError), ({"low": 2.0}, ValueError),
                          ({"high": "1"}, TypeError), ({"seed": -1}, ValueError)):
        with pytest.raises(error):
            engine.seeded_uniforms(**{"rows": 2, "seed": 0, "low": 0.0, "high": 1.0, **kwargs})
    with pytest.raises(ValueError, match="episodes"):
        engine.initial_states(0, 1)


@pytest.mark.parametrize("greedy", [False, True])
def test_evaluate_from_the_seeds_own_starts_is_evaluate(greedy):
    theta = np.array([1.0, -0.5, -8.0, -2.0])  # returns 226-500, greedy or not: the starts tell apart
    starts = engine.initial_states(24, 7)
    assert starts.tolist() == np.random.default_rng(7).uniform(-0.05, 0.05, (24, 4)).tolist()  # Gymnasium's resets
    for threads in (1, 2):
        for stop in (None, 450.0):
            a = evaluate(theta, 24, 7, greedy=greedy, threads=threads, stop_below=stop)
            b = evaluate_from(theta, starts, 7, greedy=greedy, threads=threads, stop_below=stop)
            assert a.returns.tolist() == b.returns.tolist() and a.lengths.tolist() == b.lengths.tolist()
            assert (a.complete, a.episodes) == (b.complete, b.episodes)


def test_evaluate_from_plays_each_start_as_gymnasium_does():
    theta, lattice = np.array([0.3, -1.0, -9.0, -4.0]), start_lattice(2)
    result = evaluate_from(theta, lattice, greedy=True)
    env = gymnasium_env()
    for start, length in zip(lattice, result.lengths):
        env.reset(seed=0)
        env.unwrapped.state = start.copy()
        obs, steps, done = start.astype(np.float32), 0, False
        while not done:
            obs, _, terminated, truncated, _ = env.step(int(float(np.dot(theta, obs.astype(np.float64))) < 0.0))
            steps, done = steps + 1, terminated or truncated
        assert steps == length


@pytest.mark.parametrize(("starts", "error", "match"), [
    (np.zeros((0, 4)), ValueError, "shape"), (np.zeros((3, 5)), ValueError, "shape"), (np.zeros(4), ValueError, "shape"),
    (np.full((2, 4), np.nan), ValueError, "finite"), (np.array([["a"] * 4]), TypeError, "real numbers"),
    ([[0.0] * 4], None, None), (np.zeros((2, 4), dtype=np.float32), None, None),
])
def test_evaluate_from_checks_its_starts(starts, error, match):
    if error is None:
        assert evaluate_from(GOOD, starts).returns.shape == (len(starts),)
    else:
        with pytest.raises(error, match=match):
            evaluate_from(GOOD, starts)


def test_gymnasium_evaluation_refuses_changed_physics():
    with pytest.raises(ValueError, match="CartPole-v0/v1 constants"):
        evaluate_in_gymnasium(GOOD, 2, params=make_params()._replace(gravity=1.0))


def test_natural_step_respects_the_kl_bound_and_improves_the_surrogate():
    theta = np.array([0.1, 0.3, 1.0, 0.4])
    estimate = engine.estimate_gradient(theta, 16, 2, baseline="per_timestep", streaming=False)
    batch = estimate.batch
    mask = np.arange(batch.left.shape[1]) < batch.lengths[:, None]
    f, left, adv = batch.features[mask], batch.left[mask], estimate.advantages[mask]
    free = natural_step(estimate.grad, estimate.fisher, 0.01, 1e-8, f, left, adv, theta, 16, line_search=False)
    # the quadratic model is the exact KL's second-order term: close for a small step
    assert free.kl == pytest.approx(0.01, rel=0.15) and free.backtracks == 0
    searched = natural_step(estimate.grad, estimate.fisher, 0.01, 1e-8, f, left, adv, theta, 16)
    assert searched.kl <= 0.01 and searched.kl == pytest.approx(mean_kl(f, theta, theta + searched.delta_theta))
    # the direction is F^-1 g (per-state Fisher), up to a positive scale
    per_state = estimate.fisher * 16 / f.shape[0]
    direction = np.linalg.solve(per_state + 1e-8 * np.eye(4), estimate.grad)
    cosine = searched.delta_theta @ direction / np.linalg.norm(searched.delta_theta) / np.linalg.norm(direction)
    assert cosine == pytest.approx(1.0, abs=1e-9)


def test_mean_kl_matches_its_definition():
    rng = np.random.default_rng(0)
    f, a, b = rng.normal(size=(50, 5)), rng.normal(size=5), rng.normal(size=5)
    p, q = 1 / (1 + np.exp(-f @ a)), 1 / (1 + np.exp(-f @ b))
    expected = np.mean(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))
    assert mean_kl(f, a, b) == pytest.approx(expected, rel=1e-12)
    assert mean_kl(f, a, a) == 0.0


def test_a_leave_one_out_baseline_needs_two_episodes_per_batch(tmp_path):
    from fastpg.training import train

    with pytest.raises(ValueError, match="at least 2 episodes"):
        train(TrainConfig(batch_size=1, baseline="optimal_loo"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_config_reads_normalize_true_and_false_as_batch_and_none(tmp_path):
    (tmp_path / "old.toml").write_text("normalize = false\n")
    assert load_config(tmp_path / "old.toml").normalize == "none"
    assert TrainConfig(normalize=True).normalize == "batch"


def test_config_round_trips_through_toml(tmp_path):
    config = TrainConfig(seed=7, lr=0.25, baseline="optimal", normalize=True, optimizer="natural",
                         kinematics_integrator="semi-implicit euler", max_seconds=2)
    (tmp_path / "c.toml").write_text(config.to_toml())
    assert load_config(tmp_path / "c.toml") == config
    assert load_config(tmp_path / "c.toml", {"seed": 8}) == config.replace(seed=8)


@pytest.mark.parametrize(("values", "error", "match"), [
    ({"batchsize": 4}, ValueError, "did you mean 'batch_size'"),
    ({"zzz": 1}, ValueError, "known keys"),
    ({"batch_size": 4.0}, TypeError, "batch_size must be an integer"),
    ({"batch_size": True}, TypeError, "batch_size must be an integer"),
    ({"normalize": 1}, TypeError, "normalize must be a string"),
    ({"normalize": "yes"}, ValueError, "normalize must be one of"),
    ({"baseline": "optimal_per_timestep"}, ValueError, "now called 'per_timestep_score_weighted'"),
    ({"lr": 0}, ValueError, r"lr must be in \(0.0"),
    ({"lr": float("inf")}, ValueError, "lr must be finite"),
    ({"gamma": -0.1}, ValueError, "gamma must be in"),
    ({"psi": "returns"}, ValueError, "psi must be one of"),
    ({"env": "MountainCar-v0"}, ValueError, "env must be one of"),
])
def test_config_errors(values, error, match):
    with pytest.raises(error, match=match):
        config_from_dict(values)


def test_config_choices_are_the_engines():
    assert FIELDS["baseline"].metadata["choices"] == tuple(options.BASELINES)
    assert FIELDS["psi"].metadata["choices"] == tuple(options.PSI)
    assert FIELDS["discount"].metadata["choices"] == options.DISCOUNTS
    assert all(f.metadata["help"] for f in dataclasses.fields(TrainConfig))


def play_one_by_one(theta, episodes, seed, greedy, params):
    """The reference: each episode in ``gymnasium.make``'s single env, one Python step at a time."""
    weights, bias = [float(w) for w in theta[:4]], (float(theta[4]) if len(theta) == 5 else None)
    key = engine.batch_start(theta, episodes, seed, params)[4]
    env, uniforms, returns = gymnasium_env(params), np.empty(params.max_episode_steps), []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed) if i == 0 else env.reset()
        episode_uniforms(key, i, uniforms)
        total, t, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(
                act_scalar(logit_scalar(weights, bias, obs.tolist()), uniforms[t], greedy))
            total, t, done = total + float(reward), t + 1, terminated or truncated
        returns.append(total)
    return returns


@pytest.mark.parametrize("theta", [GOOD, np.append(GOOD, 0.4), np.array([0.1, 0.5, 0.8, 0.3]),
                                   np.array([-0.539321, -1.51737, -8.46268, -4.4703])])
@pytest.mark.parametrize("greedy", [False, True])
@pytest.mark.parametrize("params", [make_params(), make_params("v0", kinematics_integrator="semi-implicit euler"),
                                    make_params(sutton_barto_reward=True)])
def test_vector_gymnasium_evaluation_equals_the_single_env_one_episode_at_a_time(theta, greedy, params):
    vector = evaluate_in_gymnasium(theta, 30, 11, greedy=greedy, params=params)
    assert vector.returns.tolist() == play_one_by_one(theta, 30, 11, greedy, params)


def test_both_modes_side_by_side_equal_each_mode_alone():
    theta = np.array([-0.539321, -1.51737, -8.46268, -4.4703])
    both = evaluate_in_gymnasium_modes(theta, 40, 3, (False, True, False))
    for evaluation, greedy in zip(both, (False, True, False)):
        alone = evaluate_in_gymnasium(theta, 40, 3, greedy=greedy)
        assert evaluation.greedy == greedy and evaluation.summary() == alone.summary()
        assert evaluation.returns.tolist() == alone.returns.tolist()
        assert evaluation.lengths.tolist() == alone.lengths.tolist()


def stop_index(returns, threshold, margin_se, best=500.0):
    """The rule written out in plain Python on a complete evaluation: episodes the check plays."""
    m, total = len(returns), 0.0
    for k in range(1, m + 1):
        total += returns[k - 1]
        played = np.asarray(returns[:k])
        squares = float(((played - played.mean()) ** 2).sum())
        if total + (m - k) * best - margin_se * math.sqrt(m / (m - 1) * squares) < threshold * m - 1e-6:
            return k
    return m


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_solve_check_stops_where_the_rule_says_on_any_thread_count(threads):
    """Every θ along a training run, at targets and margins that stop early, late or never: the
    check stops after the episode the plain-Python rule names, with the complete evaluation's
    returns, and a check that stops could not have passed."""
    run = train(TrainConfig(seed=3, stop_at_solve=False, max_episodes=60, final_episodes=0))
    for theta in [row["theta"] for row in run.history] + [GOOD.tolist()]:
        full = evaluate(theta, 40, 9)
        for target, margin in [(475.0, 0.0), (475.0, 4.0), (300.0, 2.0), (60.0, 0.0), (-1.0, 0.0), (450.0, 1.0)]:
            check = evaluate(theta, 40, 9, stop_below=target, margin_se=margin, threads=threads)
            played = len(check.returns)
            assert played == stop_index(full.returns.tolist(), target, margin)
            assert check.returns.tolist() == full.returns[:played].tolist()
            assert check.lengths.tolist() == full.lengths[:played].tolist()
            assert check.solved(target, margin) == full.solved(target, margin)
        greedy = evaluate(theta, 40, 9, greedy=True, stop_below=500.0, threads=threads)
        assert greedy.solved(500.0) == bool((evaluate(theta, 40, 9, greedy=True).returns == 500.0).all())


@pytest.mark.nojit
@pytest.mark.parametrize("threads", [1, 2])
def test_the_solve_check_kernel_body_stops_where_the_rule_says(threads):
    theta, params = [0.0, 0.3, 2.0, 0.5], make_params(max_episode_steps=20)  # short, varied episodes
    full = evaluate(theta, 8, 4, params=params)
    stops = set()
    for target, margin in [(18.0, 0.0), (16.0, 2.0), (15.0, 0.5), (14.0, 1.0), (10.0, 0.0)]:
        check = evaluate(theta, 8, 4, stop_below=target, margin_se=margin, threads=threads, params=params)
        assert len(check.returns) == stop_index(full.returns.tolist(), target, margin, best=20.0)
        assert check.returns.tolist() == full.returns[:len(check.returns)].tolist()
        stops.add(len(check.returns))
    assert len(stops) >= 3  # early, late and never
