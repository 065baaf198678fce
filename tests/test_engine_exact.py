"""Exact expectations by enumerating every action sequence on short horizons (T <= 8).

J(theta) = sum_tau P(tau) R(tau) and grad J are exact sums over trajectories; the exact
expectation of an estimator is the probability-weighted sum of its value on every trajectory
(or every pair of trajectories for a batch of two).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastpg.pg import engine
from fastpg.pg.engine import Batch
from fastpg.pg.offpolicy import importance_weights, offpolicy_gradient, reweighted_gradient

from . import reference_pg as ref

HORIZON = 7
STATE0 = (0.0, 0.3, 0.15, 0.4)  # the pole falls within 7 steps on some branches, not on others
THETAS = [np.array([0.3, -0.2, 1.5, 0.4]), np.array([0.3, -0.2, 1.5, 0.4, 0.25])]


SHORT = {"state0": (0.0, 0.3, 0.19, 0.3), "horizon": 5}  # 16 trajectories of 3 to 5 steps: 16^3 batches of 3


def trajectories(theta, horizon=HORIZON, state0=STATE0):
    return list(ref.enumerate_trajectories(theta, state0, horizon))


def batch_of(theta, episodes, horizon=HORIZON):
    """A stored Batch holding the given (features, left, rewards) episodes, padded to ``horizon``."""
    m, d = len(episodes), len(theta)
    features, left = np.zeros((m, horizon, d)), np.zeros((m, horizon), dtype=bool)
    logits, rewards = np.zeros((m, horizon)), np.zeros((m, horizon))
    for i, (f, a, r) in enumerate(episodes):
        n = len(r)
        features[i, :n], left[i, :n], rewards[i, :n] = f, a, r
        logits[i, :n] = [ref.logit(theta, row) for row in f]
    lengths = np.array([len(r) for _, _, r in episodes], dtype=np.int64)
    return Batch(np.array(theta, dtype=float), features, left, logits, rewards, lengths)


def objective(theta, gamma):
    """Exact J_gamma(theta) = E[sum_t gamma^t r_t]."""
    return sum(p * sum(gamma**t * r for t, r in enumerate(rs)) for p, _, _, rs in trajectories(theta))


def exact_gradient(theta, gamma):
    """grad J_gamma = sum_tau P(tau) (sum_t grad log pi(a_t|s_t)) R_gamma(tau)."""
    total = np.zeros(len(theta))
    for p, fs, ls, rs in trajectories(theta):
        score = sum(ref.score(theta, f, a) for f, a in zip(fs, ls))
        total += p * score * sum(gamma**t * r for t, r in enumerate(rs))
    return total


def expectation(theta, m, horizon=HORIZON, state0=STATE0, **kwargs):
    """Exact E[estimator] over batches of m i.i.d. episodes (trajectories stored once, batches stacked from them)."""
    trajs = trajectories(theta, horizon, state0)
    rows = batch_of(theta, [t[1:] for t in trajs], horizon)
    total = np.zeros(len(theta))
    for combo in itertools.product(range(len(trajs)), repeat=m):
        weight = np.prod([trajs[c][0] for c in combo])
        pick = list(combo)
        batch = Batch(rows.theta, rows.features[pick], rows.left[pick], rows.logits[pick], rows.rewards[pick],
                      rows.lengths[pick])
        total += weight * engine.gradient(batch, **kwargs).grad
    return total


def assert_close(actual, expected, rtol=1e-12):
    assert np.abs(actual - expected).max() <= rtol * np.abs(expected).max(), (actual, expected)


@pytest.mark.parametrize("theta", THETAS)
def test_enumeration_is_a_distribution_and_gradient_matches_finite_differences(theta):
    trajs = trajectories(theta)
    assert abs(sum(t[0] for t in trajs) - 1.0) < 1e-14
    lengths = {len(t[3]) for t in trajs}
    assert min(lengths) < HORIZON and HORIZON in lengths, "some branches must terminate early"
    for gamma in (1.0, 0.9):
        h = 1e-5
        fd = np.array([(objective(theta + h * e, gamma) - objective(theta - h * e, gamma)) / (2 * h)
                       for e in np.eye(len(theta))])
        np.testing.assert_allclose(exact_gradient(theta, gamma), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize(("psi", "discount", "gamma"), [
    ("total_return", "from_start", 1.0), ("total_return", "from_start", 0.9),
    ("reward_to_go", "from_start", 1.0), ("reward_to_go", "from_start", 0.9),
    ("reward_to_go", "from_step", 1.0),
])
def test_unbiased_estimators_have_expectation_grad_j(theta, psi, discount, gamma):
    expected = exact_gradient(theta, gamma)
    assert_close(expectation(theta, 1, psi=psi, discount=discount, gamma=gamma), expected)
    assert_close(expectation(theta, 2, psi=psi, discount=discount, gamma=gamma), expected)


@pytest.mark.parametrize("theta", THETAS)
def test_discounting_from_the_current_step_is_biased_for_grad_j_gamma(theta):
    """Seed 001's gamma^(t'-t) drops the gamma^t factor of grad J_gamma: it is not its expectation."""
    biased = expectation(theta, 1, psi="reward_to_go", discount="from_step", gamma=0.9)
    exact = exact_gradient(theta, 0.9)
    assert np.abs(biased - exact).max() > 1e-3 * np.abs(exact).max()


@pytest.mark.parametrize("theta", THETAS)
def test_zero_padded_per_timestep_baseline_shrinks_the_gradient_by_m_minus_1_over_m(theta):
    """b_t = 1/m sum_j Psi_{j,t} holds Psi_{i,t} / m, and E[s_{i,t} Psi_{i,t}] sums to grad J."""
    assert_close(expectation(theta, 2, baseline="per_timestep"), 0.5 * exact_gradient(theta, 1.0))


@pytest.mark.parametrize("theta", THETAS)
def test_running_per_timestep_baseline_is_biased_but_not_by_a_constant_factor(theta):
    """Averaging over running episodes only makes the shrinkage depend on who is still running."""
    expected = exact_gradient(theta, 1.0)
    running = expectation(theta, 2, baseline="per_timestep_running")
    assert np.abs(running - 0.5 * expected).max() > 1e-6 * np.abs(expected).max()
    assert np.abs(running - expected).max() > 1e-6 * np.abs(expected).max()


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize("psi", ["total_return", "reward_to_go"])
def test_batch_mean_baseline_shrinks_the_gradient_by_m_minus_1_over_m(theta, psi):
    """b = mean_j R_j includes R_i, and E[s_i R_i / m] = grad J / m: E[estimate] = (m - 1)/m grad J."""
    expected = exact_gradient(theta, 1.0)
    assert_close(expectation(theta, 2, psi=psi, baseline="batch_mean"), 0.5 * expected)
    alone = expectation(theta, 1, psi=psi, baseline="batch_mean")  # m = 1: the baseline cancels all signal
    assert np.abs(alone).max() <= 1e-12 * np.abs(expected).max()


@pytest.mark.parametrize("theta", THETAS)
def test_importance_weights_are_unbiased_for_the_new_policy(theta):
    """E_old[w(tau) R(tau)] = J(theta_new), per trajectory and per decision; E_old[w] = 1."""
    theta_new = theta + np.linspace(-0.3, 0.3, len(theta))
    j_new = objective(theta_new, 1.0)
    per_traj = per_dec = mean_w = 0.0
    grad_new = np.zeros(len(theta))
    for p, fs, ls, rs in trajectories(theta):
        batch = batch_of(theta, [(fs, ls, rs)])
        w = importance_weights(batch, theta_new)
        wd = importance_weights(batch, theta_new, per_decision=True)
        per_traj += p * w.trajectory[0] * sum(rs)
        per_dec += p * float(wd.per_step[0, : len(rs)] @ np.array(rs))
        mean_w += p * w.trajectory[0]
        estimate = engine.gradient(batch, psi="total_return")
        grad_new += p * reweighted_gradient(batch, estimate.advantages, theta_new, w)
    assert abs(mean_w - 1.0) < 1e-13
    assert abs(per_traj - j_new) < 1e-12 * j_new and abs(per_dec - j_new) < 1e-12 * j_new
    assert_close(grad_new, exact_gradient(theta_new, 1.0))


def offpolicy_expectation(theta, theta_new, per_decision, **kwargs):
    """Exact E_old[offpolicy_gradient] over single episodes drawn under theta."""
    total = np.zeros(len(theta))
    for p, fs, ls, rs in trajectories(theta):
        batch = batch_of(theta, [(fs, ls, rs)])
        weights = importance_weights(batch, theta_new, per_decision=per_decision)
        total += p * offpolicy_gradient(batch, theta_new, weights, **kwargs)
    return total


def advantage_weighted_expectation(theta, theta_new, psi, discount, gamma):
    """Exact E_old of the old per-decision form: sum_t rho_{0:t} s^new_t Psi_t (the whole Psi_t weighted up to t)."""
    total = np.zeros(len(theta))
    for p, fs, ls, rs in trajectories(theta):
        batch = batch_of(theta, [(fs, ls, rs)])
        w = importance_weights(batch, theta_new, per_decision=True).per_step[0]
        psis = ref.psi_values(rs, psi, discount, gamma)
        total += p * sum(w[t] * ref.score(theta_new, f, a) * psis[t] for t, (f, a) in enumerate(zip(fs, ls)))
    return total


def relative_error(actual, expected):
    return np.abs(actual - expected).max() / np.abs(expected).max()


UNBIASED_CASES = [("total_return", "from_start", 1.0), ("total_return", "from_start", 0.9),
                  ("reward_to_go", "from_start", 1.0), ("reward_to_go", "from_start", 0.9)]


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize(("psi", "discount", "gamma"), UNBIASED_CASES)
@pytest.mark.parametrize("per_decision", [True, False])
def test_offpolicy_gradient_is_unbiased_for_the_new_policy(theta, psi, discount, gamma, per_decision):
    """E_old[offpolicy_gradient] = grad J_gamma(theta_new): per decision, each reward weighted by rho_{0:t'}."""
    theta_new = theta + np.linspace(-0.4, 0.4, len(theta))
    estimate = offpolicy_expectation(theta, theta_new, per_decision, psi=psi, discount=discount, gamma=gamma)
    assert_close(estimate, exact_gradient(theta_new, gamma))


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize("per_decision", [True, False])
def test_offpolicy_gradient_from_step_has_the_on_policy_expectation_at_theta_new(theta, per_decision):
    """gamma^(t'-t) is biased for grad J_gamma, but reweighting reproduces the new policy's own estimator."""
    theta_new = theta + np.linspace(-0.4, 0.4, len(theta))
    kwargs = {"psi": "reward_to_go", "discount": "from_step", "gamma": 0.9}
    assert_close(offpolicy_expectation(theta, theta_new, per_decision, **kwargs),
                 expectation(theta_new, 1, **kwargs))


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize(("psi", "discount", "gamma"), UNBIASED_CASES)
def test_weighting_the_whole_advantage_per_decision_is_biased(theta, psi, discount, gamma):
    """The old form, rho_{0:t} s_t Psi_t, misses the ratios after t for the rewards after t.

    On this 7-step horizon its exact expectation is off by 2.1-2.5% of grad J(theta_new) (max-norm),
    ten orders of magnitude above the 1e-12 the test above demands of the per-reward form.
    """
    theta_new = theta + np.linspace(-0.4, 0.4, len(theta))
    expected = exact_gradient(theta_new, gamma)
    assert relative_error(advantage_weighted_expectation(theta, theta_new, psi, discount, gamma), expected) > 0.02


def test_reweighted_gradient_refuses_per_decision_weights():
    theta = THETAS[0]
    _, fs, ls, rs = trajectories(theta)[0]
    batch = batch_of(theta, [(fs, ls, rs)])
    estimate = engine.gradient(batch)
    with pytest.raises(ValueError, match="offpolicy_gradient"):
        reweighted_gradient(batch, estimate.advantages, theta, importance_weights(batch, theta, per_decision=True))


@pytest.mark.parametrize("theta", THETAS)
@pytest.mark.parametrize("baseline", ["batch_mean_loo", "per_timestep_loo", "optimal_loo"])
@pytest.mark.parametrize(("psi", "gamma"), [("total_return", 1.0), ("reward_to_go", 0.9)])
def test_leave_one_out_baselines_are_unbiased(theta, baseline, psi, gamma):
    """Episode i's baseline from the other m - 1 episodes is independent of it: E[s_t b] = 0, so E = grad J_gamma.

    m = 2 on the 7-step horizon, m = 3 on the SHORT one (16^3 batches); episodes of different lengths in both.
    """
    kwargs = {"psi": psi, "gamma": gamma, "baseline": baseline}
    assert_close(expectation(theta, 2, **kwargs), exact_gradient(theta, gamma))
    short = np.zeros(len(theta))
    for p, fs, ls, rs in trajectories(theta, **SHORT):
        score = sum(ref.score(theta, f, a) for f, a in zip(fs, ls))
        short += p * score * sum(gamma**t * r for t, r in enumerate(rs))
    assert_close(expectation(theta, 3, **SHORT, **kwargs), short)


@pytest.mark.parametrize("theta", THETAS)
def test_per_timestep_leave_one_out_is_the_shared_baseline_scaled_by_m_over_m_minus_1(theta):
    """Psi_i - (m b - Psi_i)/(m - 1) = m/(m - 1) (Psi_i - b): (m - 1)/m grad J becomes grad J."""
    batch = batch_of(theta, [t[1:] for t in trajectories(theta)[:5]])
    shared = engine.gradient(batch, baseline="per_timestep").grad
    assert_close(engine.gradient(batch, baseline="per_timestep_loo").grad, shared * 5 / 4, 1e-14)


@pytest.mark.parametrize("theta", THETAS)
def test_the_in_batch_optimal_baseline_is_biased(theta):
    """b_k = sum_j S_jk^2 R_j / sum_j S_jk^2 contains episode i itself: at m = 2 its expectation misses grad J by
    over 10% (max-norm) on this horizon, while optimal_loo hits it to 1e-12 (test above)."""
    expected = exact_gradient(theta, 1.0)
    assert relative_error(expectation(theta, 2, psi="total_return", baseline="optimal"), expected) > 0.1


def single_episode_moments(theta, b):
    """Exact E[(S_k (R - b_k))^2] per parameter k for one episode, S = sum_t grad log pi, R the return."""
    total = np.zeros(len(theta))
    for p, fs, ls, rs in trajectories(theta):
        score = sum(ref.score(theta, f, a) for f, a in zip(fs, ls))
        total += p * (score * (sum(rs) - b)) ** 2
    return total


@pytest.mark.parametrize("theta", THETAS)
def test_seed_002_baseline_minimizes_the_variance_of_the_total_return_estimator(theta):
    """Var_k(b) = E[S_k^2 (R - b)^2] - (dJ/dtheta_k)^2 is a parabola in b with its minimum at
    b*_k = E[S_k^2 R] / E[S_k^2] (seed 002): 'optimal' and 'optimal_loo' estimate b* from the batch."""
    trajs = trajectories(theta)
    squares = sum(p * sum(ref.score(theta, f, a) for f, a in zip(fs, ls)) ** 2 for p, fs, ls, _ in trajs)
    weighted = sum(p * sum(ref.score(theta, f, a) for f, a in zip(fs, ls)) ** 2 * sum(rs) for p, fs, ls, rs in trajs)
    best = weighted / squares
    mean_return = objective(theta, 1.0)
    at_best = single_episode_moments(theta, best)
    for other in (best * 0.99, best * 1.01, np.full(len(theta), mean_return)):
        assert (single_episode_moments(theta, other) > at_best).all()
    # the minimum of the parabola a b^2 - 2 c b + e sits at c / a: its derivative there vanishes
    h = 1e-4 * np.abs(best)
    slope = (single_episode_moments(theta, best + h) - single_episode_moments(theta, best - h)) / (2 * h)
    assert np.abs(slope).max() <= 1e-8 * at_best.max()


@pytest.mark.parametrize("theta", THETAS)
def test_normalized_estimators_are_biased(theta):
    """Standardizing advantages divides by a data-dependent spread: neither form's expectation is a multiple of grad J.

    Seed 001's per-episode form with no baseline couples no episodes, so its expectation does not depend on m.
    """
    expected = exact_gradient(theta, 1.0)
    for normalize in ("batch", "episode"):
        mean = expectation(theta, 2, normalize=normalize)
        cosine = mean @ expected / np.linalg.norm(mean) / np.linalg.norm(expected)
        assert cosine < 1 - 1e-4, (normalize, cosine)
    assert_close(expectation(theta, 2, normalize="episode"), expectation(theta, 1, normalize="episode"))


@pytest.mark.parametrize("theta", THETAS)
def test_the_score_weighted_per_timestep_baseline_is_biased(theta):
    """b_tk = sum_j s_jtk^2 Psi_jt / sum_j s_jtk^2 (formerly 'optimal_per_timestep') includes episode i:
    at m = 2 its expectation misses grad J by about half (max-norm) on this horizon."""
    expected = exact_gradient(theta, 1.0)
    assert relative_error(expectation(theta, 2, baseline="per_timestep_score_weighted"), expected) > 0.3
