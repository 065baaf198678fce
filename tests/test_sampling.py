"""The estimators through the sampling path: means of ``engine.estimate_gradient`` over many batches.

Every batch's initial states are drawn by the engine (``engine.batch_start``), so the exact
expectation is taken given them: on a 4-step horizon with a 0.055 rad pole threshold (some episodes
fall after 2 or 3 steps), every action sequence from each initial state is enumerated in NumPy with
Gymnasium's equations. For each estimator the differences "estimate - exact conditional expectation"
of N batches are i.i.d. with mean 0, and each parameter's t-statistic is bounded:

- closed-form expectations (grad J_gamma, (m - 1)/m of the plain estimator, the importance-weighted
  grad J_gamma(theta_new), the Fisher matrix): N = 2000 batches of 4, |z| < 6. Under the null
  P(|t_1999| > 6) = 2.3e-9 per comparison; fewer than 400 comparisons: false failure < 1e-6 (Bonferroni).
- estimators without a closed form (in-batch optimal, running and score-weighted baselines, both
  normalizations): the exact expectation of the stored-path estimate (``engine.gradient``, pinned to
  the NumPy reference batch by batch in test_engine.py) over every pair of trajectories, N = 40
  batches of 2, |t| < 8: P(|t_39| > 8) = 9.5e-10 per comparison, fewer than 200: false failure < 2e-7.
  Normalization is crossed with every baseline for reward-to-go from the start, and with the
  default and no baseline for the other two Psi: Psi enters the stored path only as the array
  the baseline and the normalization read, and every Psi x baseline x normalize combination is
  checked batch by batch against the NumPy reference in test_engine.py (enumerating pairs costs
  about a second per combination here).

The seeds are fixed, so the tests are deterministic anyway: these bounds say how unlikely it was to
pick seeds that fail a correct engine. Streamed and stored paths are both tested; odd seeds run on 2
threads, even seeds on 1 (results are bit-identical for any thread count, also asserted).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from fastpg import make_params
from fastpg.pg import engine, options
from fastpg.pg.engine import Batch
from fastpg.pg.offpolicy import importance_weights, offpolicy_gradient, reweighted_gradient

from . import reference as gym_ref

PARAMS = make_params(max_episode_steps=4)._replace(theta_threshold_radians=0.055)
THETA = np.array([0.3, -0.2, 1.5, 0.4, 0.25])
THETA_NEW = THETA + np.linspace(-0.4, 0.4, 5)
MANY, EPISODES, Z_BOUND = 2000, 4, 6.0  # closed-form expectations
FEW, PAIR, T_BOUND = 40, 2, 8.0  # expectations by enumerating pairs of trajectories
PSI_CASES = [("total_return", "from_start", 1.0), ("total_return", "from_start", 0.9),
             ("reward_to_go", "from_start", 1.0), ("reward_to_go", "from_start", 0.9),
             ("reward_to_go", "from_step", 0.9)]


def enumerate_episodes(theta, states0, params=PARAMS):
    """Every trajectory from each of the n initial states ``states0`` (float64[n, 4]), all at once.

    All S = 2^T action sequences are simulated with Gymnasium's Euler step. Returns probability
    float64[n, S] (0 for a sequence whose actions after termination are not all "left": it repeats
    an earlier trajectory), features float64[n, S, T, d], left bool[S, T], lengths int64[n, S].
    """
    horizon, d, n = params.max_episode_steps, theta.shape[0], states0.shape[0]
    left = np.array(list(itertools.product((True, False), repeat=horizon)))  # [S, T]
    x, x_dot, angle, angle_dot = (np.repeat(states0[:, j:j + 1], len(left), axis=1) for j in range(4))
    features = np.zeros((n, len(left), horizon, d))
    shape = (n, len(left))
    lengths, alive, log_p = np.full(shape, horizon), np.ones(shape, dtype=bool), np.zeros(shape)
    for t in range(horizon):
        features[:, :, t, :4] = np.stack([x, x_dot, angle, angle_dot], axis=-1).astype(np.float32)
        if d == 5:
            features[:, :, t, 4] = 1.0
        p_left = 1.0 / (1.0 + np.exp(-(features[:, :, t] @ theta)))
        log_p += np.where(alive, np.log(np.where(left[:, t], p_left, 1.0 - p_left)), 0.0)
        force = np.where(left[:, t], -gym_ref.FORCE_MAG, gym_ref.FORCE_MAG)
        cos, sin = np.cos(angle), np.sin(angle)
        temp = (force + gym_ref.POLEMASS_LENGTH * (angle_dot * angle_dot) * sin) / gym_ref.TOTAL_MASS
        angle_acc = (gym_ref.GRAVITY * sin - cos * temp) / (
            gym_ref.LENGTH * (4.0 / 3.0 - gym_ref.MASSPOLE * (cos * cos) / gym_ref.TOTAL_MASS))
        x_acc = temp - gym_ref.POLEMASS_LENGTH * angle_acc * cos / gym_ref.TOTAL_MASS
        x, x_dot = x + gym_ref.TAU * x_dot, x_dot + gym_ref.TAU * x_acc
        angle, angle_dot = angle + gym_ref.TAU * angle_dot, angle_dot + gym_ref.TAU * angle_acc
        fell = alive & ((np.abs(x) > params.x_threshold) | (np.abs(angle) > params.theta_threshold_radians))
        lengths[fell] = t + 1
        alive &= ~fell
    steps = np.arange(horizon)
    repeats = ((steps >= lengths[..., None]) & ~left).any(axis=-1)
    return np.where(repeats, 0.0, np.exp(log_p)), features, left, lengths


def psi_of(lengths, psi, discount, gamma, horizon):
    """Psi_t float64[..., T] of episodes with unit rewards for t < lengths (0 after), from the definitions."""
    t, u = np.arange(horizon)[:, None], np.arange(horizon)[None, :]
    reward = (u < lengths[..., None]).astype(float)[..., None, :]  # r_u, broadcast over t
    if psi == "total_return":
        weight = np.broadcast_to(gamma ** u.astype(float), (horizon, horizon))
    elif discount == "from_start":
        weight = np.where(u >= t, gamma ** u.astype(float), 0.0)
    else:
        weight = np.where(u >= t, gamma ** (u - t).clip(0).astype(float), 0.0)
    return (weight * reward).sum(axis=-1) * (np.arange(horizon) < lengths[..., None])


@functools.cache
def conditional(theta_key, psi, discount, gamma, seeds, m):
    """Per batch of ``seeds``, the mean over its m episodes of the exact moments given their initial states:
    E[sum_t s_t Psi_t] float64[N, d], E[S sum_t gamma^t r_t] float64[N, d], E[sum_t p(1-p) f f^T] float64[N, d, d]."""
    theta = np.array(theta_key)
    states0 = np.concatenate([engine.batch_start(theta, m, seed, PARAMS)[3] for seed in range(*seeds)])
    prob, features, left, lengths = enumerate_episodes(theta, states0)
    horizon = features.shape[2]
    running = np.arange(horizon) < lengths[..., None]
    p_left = 1.0 / (1.0 + np.exp(-(features @ theta)))
    scores = ((left - p_left) * running)[..., None] * features  # [n, S, T, d]
    plain = (scores * psi_of(lengths, psi, discount, gamma, horizon)[..., None]).sum(axis=2)
    returns = psi_of(lengths, "total_return", "from_start", gamma, horizon)[..., 0]
    fisher = np.einsum("nst,nsti,nstj->nsij", p_left * (1 - p_left) * running, features, features)
    moments = [np.einsum("ns,ns...->n...", prob, value)
               for value in (plain, scores.sum(axis=2) * returns[..., None], fisher)]
    return [value.reshape(-1, m, *value.shape[1:]).mean(axis=1) for value in moments]


def assert_unbiased(samples, expected, bound):
    """|mean(samples - expected)| / standard error < bound, per entry (exactly 0 where the spread is 0)."""
    diff = (np.asarray(samples) - np.asarray(expected)).reshape(len(samples), -1)
    mean, error = diff.mean(axis=0), diff.std(axis=0, ddof=1) / np.sqrt(len(diff))
    scale = np.abs(np.asarray(expected)).max()
    z = np.where(error > 1e-14 * scale, mean / np.where(error > 0, error, 1.0), 0.0)
    assert (np.abs(mean[error <= 1e-14 * scale]) <= 1e-13 * scale).all()
    assert np.abs(z).max() < bound, z


def sampled(seeds, m, **kwargs):
    """estimate_gradient over batches ``seeds``, one seed in 500 on 2 threads."""
    return [engine.estimate_gradient(THETA, m, seed, params=PARAMS, threads=2 if seed % 500 == 1 else 1,
                                   **kwargs)
            for seed in range(*seeds)]


CLOSED_FORM = {  # E[estimate | initial states] from (E[sum_t s_t Psi_t], E[S Psi_0]) per episode, batches of m
    "none": lambda plain, ret, m: plain, "batch_mean": lambda plain, ret, m: plain - ret / m,
    "batch_mean_loo": lambda plain, ret, m: plain, "per_timestep": lambda plain, ret, m: plain * (m - 1) / m,
    "per_timestep_loo": lambda plain, ret, m: plain, "optimal_loo": lambda plain, ret, m: plain,
}


@pytest.mark.parametrize(("psi", "discount", "gamma"), PSI_CASES)
@pytest.mark.parametrize("baseline", list(CLOSED_FORM))
def test_sampled_estimates_have_their_exact_expectation(psi, discount, gamma, baseline):
    """Unbiased baselines: grad J_gamma (E of the plain estimator; gamma^(t'-t) has its own); batch_mean:
    minus E[S Psi_0]/m; per_timestep: (m - 1)/m of it. Streamed where it can, stored always."""
    plain, ret, _ = conditional(tuple(THETA), psi, discount, gamma, (0, MANY), EPISODES)
    expected = CLOSED_FORM[baseline](plain, ret, EPISODES)
    kwargs = {"psi": psi, "discount": discount, "gamma": gamma, "baseline": baseline}
    for streaming in ((False, True) if baseline in options.STREAMABLE_BASELINES else (False,)):
        estimates = sampled((0, MANY), EPISODES, streaming=streaming, **kwargs)
        assert_unbiased([e.grad for e in estimates], expected, Z_BOUND)


def test_the_z_test_sees_the_per_timestep_shrinkage():
    """The same test rejects grad J for the in-batch per-timestep baseline, whose mean is 3/4 of it."""
    plain, _, _ = conditional(tuple(THETA), "reward_to_go", "from_start", 1.0, (0, MANY), EPISODES)
    estimates = sampled((0, MANY), EPISODES, baseline="per_timestep")
    with pytest.raises(AssertionError):
        assert_unbiased([e.grad for e in estimates], plain, Z_BOUND)


def test_sampled_fisher_has_its_exact_expectation():
    _, _, fisher = conditional(tuple(THETA), "reward_to_go", "from_start", 1.0, (0, MANY), EPISODES)
    for streaming in (False, True):
        assert_unbiased([e.fisher for e in sampled((0, MANY), EPISODES, streaming=streaming, fisher=True)], fisher,
                        Z_BOUND)


def test_thread_counts_give_identical_bits():
    for kwargs in ({"streaming": True, "fisher": True}, {"baseline": "optimal_loo", "normalize": "episode"}):
        one = engine.estimate_gradient(THETA, 16, 5, params=PARAMS, threads=1, **kwargs)
        two = engine.estimate_gradient(THETA, 16, 5, params=PARAMS, threads=2, **kwargs)
        assert (one.grad == two.grad).all() and (one.fisher == two.fisher).all()


@pytest.mark.parametrize(("psi", "discount", "gamma"), PSI_CASES)
@pytest.mark.parametrize("kind", ["per_trajectory", "per_decision", "reweighted"])
def test_sampled_importance_weighted_estimates_have_expectation_grad_j_at_theta_new(psi, discount, gamma, kind):
    """Batches drawn under THETA, reweighted to THETA_NEW: E = grad J_gamma(THETA_NEW) given the initial states
    (from_step: the expectation of THETA_NEW's own from_step estimator)."""
    seeds = (0, MANY)
    moments_new = conditional(tuple(THETA_NEW), psi, discount, gamma, seeds, EPISODES)
    expected = moments_new[1] if discount == "from_start" else moments_new[0]
    grads = []
    for estimate in sampled(seeds, EPISODES, psi=psi, discount=discount, gamma=gamma, streaming=False):
        weights = importance_weights(estimate.batch, THETA_NEW, per_decision=kind == "per_decision")
        if kind == "reweighted":
            grads.append(reweighted_gradient(estimate.batch, estimate.advantages, THETA_NEW, weights))
        else:
            grads.append(offpolicy_gradient(estimate.batch, THETA_NEW, weights, psi=psi, discount=discount,
                                            gamma=gamma))
    assert_unbiased(grads, expected, Z_BOUND)


BIASED = ([(psi, discount, gamma, baseline, "none") for psi, discount, gamma in PSI_CASES[1::2]
           for baseline in ("optimal", "per_timestep_running", "per_timestep_score_weighted")]
          + [("reward_to_go", "from_start", 0.9, baseline, normalize) for baseline in options.BASELINES
             for normalize in ("batch", "episode")]
          + [(psi, discount, 0.9, baseline, normalize) for psi, discount in (("total_return", "from_start"),
                                                                             ("reward_to_go", "from_step"))
             for baseline in ("none", "per_timestep") for normalize in ("batch", "episode")])


@pytest.mark.parametrize(("psi", "discount", "gamma", "baseline", "normalize"), BIASED)
def test_sampled_biased_estimates_have_the_expectation_of_the_stored_estimate(psi, discount, gamma, baseline,
                                                                             normalize):
    """E[estimate | initial states] = sum over every pair of trajectories of P(pair) engine.gradient(pair)."""
    kwargs = {"psi": psi, "discount": discount, "gamma": gamma, "baseline": baseline, "normalize": normalize}
    estimates = sampled((0, FEW), PAIR, **kwargs)
    expected = []
    for seed in range(FEW):
        prob, features, left, lengths = enumerate_episodes(THETA, engine.batch_start(THETA, PAIR, seed, PARAMS)[3])
        steps = np.arange(features.shape[2]) < lengths[..., None]
        total = np.zeros(5)
        for i, j in itertools.product(*(np.flatnonzero(p) for p in prob)):
            f = np.ascontiguousarray(np.stack([features[0, i], features[1, j]]))
            rewards = np.stack([steps[0, i], steps[1, j]]).astype(np.float64)
            pair = Batch(THETA, f, np.ascontiguousarray(left[[i, j]]), f @ THETA, rewards,
                         np.array([lengths[0, i], lengths[1, j]]))
            total += prob[0, i] * prob[1, j] * engine.gradient(pair, **kwargs).grad
        expected.append(total)
    assert_unbiased([e.grad for e in estimates], expected, T_BOUND)
