"""Seed 002's KL-penalized update: exact KL, exact gradient, the dual step on λ, what it optimizes, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastpg.cartpole.spec import CartPoleParams
from fastpg.pg import engine
from fastpg.pg.kl_penalty import DualState, dual_update, kl_penalty_step, penalized_objective

from . import reference_pg as ref
from .test_engine_exact import THETAS, batch_of, exact_gradient, trajectories

SHORT = CartPoleParams(theta_threshold_radians=0.05, max_episode_steps=8)  # episodes end within 8 steps
SETTINGS = {"target": 0.01, "dual_step": 100.0, "steps": 10, "lr": 0.1}


def short_estimate(theta, episodes=6, seed=3):
    return engine.estimate_gradient(theta, episodes, seed, baseline="per_timestep", normalize=True, params=SHORT,
                                    streaming=False)


def reference_kl(batch, theta_new) -> float:
    """Mean over the batch's states of KL(pi_old || pi_new), in plain Python from the definition."""
    total, count = 0.0, 0
    for i, length in enumerate(batch.lengths):
        for t in range(length):
            f = batch.features[i, t]
            p, q = ref.sigmoid(ref.logit(batch.theta, f)), ref.sigmoid(ref.logit(theta_new, f))
            total += p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
            count += 1
    return total / count


@pytest.mark.parametrize("theta", THETAS)
def test_reported_kl_is_the_exact_kl_over_every_enumerated_state(theta):
    every = batch_of(theta, [t[1:] for t in trajectories(theta)])  # one episode per action sequence
    advantages = engine.gradient(every, baseline="per_timestep", normalize=True).advantages
    for lam in (0.0, 5.0, 50.0):
        step = kl_penalty_step(every, advantages, lam, **SETTINGS)
        assert step.kl > 0 and abs(step.kl - reference_kl(every, step.theta)) <= 1e-12 * max(1.0, step.kl)


@pytest.mark.nojit
@pytest.mark.parametrize("bias", [False, True])
def test_reported_kl_is_the_exact_kl_on_a_sampled_short_batch(bias):
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3] + [0.1] * bias))
    assert estimate.lengths.min() < 8, "episodes must end early"
    step = kl_penalty_step(estimate.batch, estimate.advantages, 3.0, **SETTINGS)
    assert abs(step.kl - reference_kl(estimate.batch, step.theta)) <= 1e-12 * max(1.0, step.kl)


@pytest.mark.parametrize("lam", [0.0, 2.0, 40.0])
def test_the_penalized_surrogate_gradient_matches_finite_differences(lam):
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3, 0.1]))
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = estimate.batch.theta + rng.normal(scale=0.5, size=5)
        exact = penalized_objective(estimate.batch, estimate.advantages, theta, lam, 0.01)
        h = 1e-6
        fd = np.array([(penalized_objective(estimate.batch, estimate.advantages, theta + h * e, lam, 0.01).value
                        - penalized_objective(estimate.batch, estimate.advantages, theta - h * e, lam, 0.01).value)
                       / (2 * h) for e in np.eye(5)])
        np.testing.assert_allclose(exact.grad, fd, rtol=1e-6, atol=1e-8)
        assert exact.value == pytest.approx(exact.surrogate - lam * (exact.kl - 0.01), rel=1e-15)
        assert exact.kl == pytest.approx(reference_kl(estimate.batch, theta), rel=1e-12)


@pytest.mark.parametrize("theta", THETAS)
def test_at_theta_old_the_gradient_is_the_batch_estimate_so_its_expectation_is_grad_j(theta):
    """grad L(theta_old) = 1/m sum s_t A_t for any lambda (grad KL = 0 there): E = grad J without a baseline."""
    expectation = np.zeros(len(theta))
    for p, *episode in trajectories(theta):
        batch = batch_of(theta, [episode])
        estimate = engine.gradient(batch)
        at_old = penalized_objective(batch, estimate.advantages, theta, 7.0, 0.01)
        np.testing.assert_allclose(at_old.grad, estimate.grad, rtol=1e-13, atol=1e-13)
        assert at_old.kl == 0.0 and at_old.surrogate == pytest.approx(estimate.advantages[0, :, 0].sum(), rel=1e-14)
        expectation += p * at_old.grad
    expected = exact_gradient(theta, 1.0)
    assert np.abs(expectation - expected).max() <= 1e-12 * np.abs(expected).max()


def test_one_inner_step_is_the_proximal_natural_step_with_the_batch_fisher():
    """From theta_old, (lam F + I / eta)^-1 g with F the estimator's Fisher matrix per state."""
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3]), episodes=12)
    lam, lr = 30.0, 0.5
    step = kl_penalty_step(estimate.batch, estimate.advantages, lam, target=0.01, dual_step=0.0, steps=1, lr=lr)
    fisher = estimate.fisher * 12 / estimate.steps
    expected = np.linalg.solve(lam * fisher + np.eye(4) / lr, estimate.grad)
    np.testing.assert_allclose(step.theta - estimate.batch.theta, expected, rtol=1e-12, atol=1e-15)
    assert step.lam == lam


def test_inner_steps_increase_the_penalized_surrogate():
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3]), episodes=12)
    args = (estimate.batch, estimate.advantages)
    before = penalized_objective(*args, estimate.batch.theta, 5.0, 0.01).value
    values = [penalized_objective(*args, kl_penalty_step(*args, 5.0, **{**SETTINGS, "steps": k}).theta, 5.0, 0.01).value
              for k in (1, 2, 5, 20)]
    assert before < values[0] < values[1] < values[2] < values[3]


@pytest.mark.nojit
def test_lambda_rises_when_the_kl_exceeds_its_target_and_falls_not_below_zero_otherwise():
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3]))
    args = (estimate.batch, estimate.advantages)
    tight = kl_penalty_step(*args, 4.0, target=1e-6, dual_step=50.0, steps=5, lr=0.1)
    assert tight.kl > 1e-6 and tight.lam == 4.0 + 50.0 * (tight.kl - 1e-6) > 4.0
    loose = kl_penalty_step(*args, 4.0, target=1.0, dual_step=2.0, steps=5, lr=0.1)
    assert loose.kl < 1.0 and loose.lam == 4.0 + 2.0 * (loose.kl - 1.0) < 4.0
    floored = kl_penalty_step(*args, 4.0, target=1.0, dual_step=50.0, steps=5, lr=0.1)
    assert floored.lam == 0.0
    assert dual_update(1.0, 0.5, 0.5, 10.0) == 1.0 and dual_update(0.0, 0.0, 0.1, 1e9) == 0.0


@pytest.mark.nojit
@pytest.mark.parametrize(("change", "error", "match"), [
    ({"lam": -1.0}, ValueError, "lam must be a finite number >= 0"),
    ({"lam": math.nan}, ValueError, "lam must be a finite number"),
    ({"lam": True}, TypeError, "lam must be a number"),
    ({"target": 0.0}, ValueError, "target must be a finite number > 0"),
    ({"dual_step": -1.0}, ValueError, "dual_step must be a finite number >= 0"),
    ({"steps": 0}, ValueError, r"steps must be in \[1, "),
    ({"steps": 2.0}, TypeError, "steps must be an int"),
    ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
    ({"advantages": "wrong shape"}, ValueError, "advantages must be float64 of shape"),
    ({"advantages": "float32"}, ValueError, "advantages must be float64 of shape"),
    ({"advantages": "nan"}, ValueError, "advantages must be finite"),
    ({"batch": "empty"}, ValueError, "the batch has no steps"),
    ({"batch": "not a batch"}, TypeError, "expected a fastpg.pg.engine.Batch"),
])
def test_bad_inputs_are_refused(change, error, match):
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3]), episodes=2)
    batch, advantages = estimate.batch, estimate.advantages.copy()
    kwargs = {"lam": 1.0, **SETTINGS}
    if change.get("advantages") == "wrong shape":
        advantages = advantages[:, :-1]
    elif change.get("advantages") == "float32":
        advantages = advantages.astype(np.float32)
    elif change.get("advantages") == "nan":
        advantages[0, 0, 0] = math.nan
    elif change.get("batch") == "empty":
        batch.lengths[:] = 0
    elif change.get("batch") == "not a batch":
        batch = "batch"
    else:
        kwargs.update(change)
    lam = kwargs.pop("lam")
    with pytest.raises(error, match=match):
        kl_penalty_step(batch, advantages, lam, **kwargs)


@pytest.mark.nojit
def test_dual_state_round_trips_and_refuses_bad_lambdas():
    state = DualState(0.1 + 0.2)
    again = DualState(0.0)
    again.load_state_dict(state.state_dict())
    assert again.lam == state.lam and DualState(3).lam == 3.0
    for bad in ({"lambda": -1.0}, {"lambda": math.inf}, {"lambda": "1"}):
        with pytest.raises((TypeError, ValueError)):
            again.load_state_dict(bad)
    with pytest.raises(KeyError):
        again.load_state_dict({})


def test_diverging_steps_return_a_non_finite_theta_and_keep_lambda():
    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3]))
    step = kl_penalty_step(estimate.batch, estimate.advantages * 1e300, 0.0, **{**SETTINGS, "lr": 1e12})
    assert not np.isfinite(step.theta).all() and math.isnan(step.kl) and step.lam == 0.0


def test_each_kernel_compiles_one_specialization():
    from fastpg.pg import _penalty

    estimate = short_estimate(np.array([0.2, -0.1, 1.0, 0.3]))
    kl_penalty_step(estimate.batch, estimate.advantages, 3, target=1, dual_step=2, steps=np.int64(2), lr=1)
    kl_penalty_step(estimate.batch, estimate.advantages[:, :, 0].copy(), 3.0, **SETTINGS)
    penalized_objective(estimate.batch, estimate.advantages, [0, 0, 1, 0], 1, 0.5)
    for kernel in (_penalty.old_policy_fill, _penalty.penalty_terms_fill, _penalty.penalty_ascent):
        assert len(kernel.signatures) == 1, kernel
