"""The engine against Gymnasium, plain-Python references, exact enumeration and finite differences."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from fastpg import make_params
from fastpg.pg import engine, options
from fastpg._rng import episode_uniforms, rng_seed_episode
from fastpg.pg._seeding import batch_seed, seed_sequence_word
from fastpg.pg.engine import Batch

from . import reference_pg as ref

THETA = np.array([0.05, 0.4, 3.0, 0.9])
BALANCING = np.array([-0.2, -1.0, -10.0, -3.0])  # some episodes reach truncation, some fall
ESTIMATORS = [(psi, discount, baseline, normalize)
              for psi, discount in (("total_return", "from_start"), ("reward_to_go", "from_start"),
                                    ("reward_to_go", "from_step"))
              for baseline in options.BASELINES for normalize in options.NORMALIZE]


def key_of(seed, m):
    """The stream key of a batch of m episodes, as the engine's docstring specifies it."""
    generator = np.random.default_rng(seed)
    generator.uniform(-0.05, 0.05, size=(m, 4))
    return int(generator.bit_generator.random_raw())


def masked(batch):
    """The stored arrays with padding cut off, for comparisons."""
    return [(batch.features[i, :n], batch.left[i, :n], batch.logits[i, :n], batch.rewards[i, :n])
            for i, n in enumerate(batch.lengths)]


@pytest.mark.nojit
def test_batch_seed_draws_what_numpys_default_rng_draws():
    """The kernel that starts a batch gives default_rng(seed)'s uniforms and next raw word, bit for bit."""
    seeds = [0, 1, 2, 2**32 - 1, 2**32, 2**32 + 7, 2**63 - 1, *np.random.default_rng(3).integers(0, 2**63 - 1, 40)]
    for seed in map(int, seeds):
        for m in (1, 3, 8):
            generator = np.random.default_rng(seed)
            expected = generator.uniform(-0.05, 0.05, (m, 4))
            out = np.empty((m, 4))
            assert batch_seed(seed, -0.05, 0.05, out) == generator.bit_generator.random_raw(), seed
            assert out.tobytes() == expected.tobytes(), seed


@pytest.mark.nojit
def test_seed_sequence_word_is_numpys_seed_sequence():
    """derive_seed's kernel gives SeedSequence([seed, stream, index]).generate_state(1, uint64), bit for bit,
    with every entropy length from 3 to 6 uint32 words (ints of one or two words each)."""
    from fastpg.training.loop import derive_seed

    edges = [0, 1, 2**32 - 1, 2**32, 2**63 - 1]
    rng = np.random.default_rng(11)
    triples = [(a, b, c) for a in edges for b in (0, 3, 2**32 + 5) for c in edges]
    triples += [tuple(map(int, rng.integers(0, 2**63 - 1, 3))) for _ in range(60)]
    triples += [(int(rng.integers(0, 2**63 - 1)), stream, index) for stream in range(4) for index in range(30)]
    for seed, stream, index in triples:
        expected = np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0]
        assert seed_sequence_word(seed, stream, index) == expected, (seed, stream, index)
        assert derive_seed(seed, stream, index) == int(expected >> np.uint64(1))


@pytest.mark.nojit
def test_xoshiro_matches_reference():
    for key, episode in ((0, 0), (123, 5), (2**64 - 1, 2**20)):
        out = np.empty(64)
        episode_uniforms(np.uint64(key), episode, out)
        assert out.tolist() == ref.xoshiro_uniforms(key, episode, 64)


@pytest.mark.nojit
@pytest.mark.parametrize("key", [0, 2**63 + 12345, 2**64 - 1])
def test_no_two_episodes_of_a_batch_share_a_stream_state_word(key):
    """Each episode seeds from its own window of four splitmix64 counters, so the 4 * m state words of a
    batch are all distinct (the earlier keying shifted adjacent episodes' windows by one counter)."""
    m = 4096
    words = np.empty((m, 4), dtype=np.uint64)
    for episode in range(m):
        rng_seed_episode(np.uint64(key), episode, words[episode])
    assert len(set(words.ravel().tolist())) == 4 * m


@pytest.mark.parametrize("theta", [BALANCING, np.append(BALANCING, -0.3)])
def test_rollout_matches_gymnasium_step_for_step(theta):
    seed, m = 1236, 6
    batch = engine.rollout(theta, m, seed)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    for i in range(m):
        if i:
            obs, _ = env.reset()
        uniforms = ref.xoshiro_uniforms(key_of(seed, m), i, 500)
        for t in itertools.count():
            f = ref.features_of(obs, len(theta) == 5)
            z = ref.logit(theta, f)
            left = uniforms[t] < ref.sigmoid(z)
            assert batch.features[i, t].tolist() == f and batch.logits[i, t] == z and batch.left[i, t] == left
            obs, reward, terminated, truncated, _ = env.step(0 if left else 1)
            assert batch.rewards[i, t] == reward
            if terminated or truncated:
                assert batch.lengths[i] == t + 1
                break
    assert batch.lengths.max() == 500 and batch.lengths.min() < 500


@pytest.mark.parametrize(("psi", "discount", "baseline", "normalize"), ESTIMATORS)
@pytest.mark.parametrize("gamma", [1.0, 0.95])
def test_estimators_match_numpy_reference(psi, discount, baseline, normalize, gamma):
    theta = np.append(THETA * 0.3, 0.1)
    batch = engine.rollout(theta, 5, 7)
    estimate = engine.gradient(batch, psi=psi, discount=discount, gamma=gamma, baseline=baseline,
                               normalize=normalize)
    episodes = [(f.tolist(), list(a), list(r)) for f, a, _, r in masked(batch)]
    grad, per_episode = ref.batch_gradient(theta, episodes, psi, discount, gamma, baseline, normalize)
    np.testing.assert_allclose(estimate.grad, grad, rtol=1e-12, atol=1e-12 * np.abs(grad).max())
    np.testing.assert_allclose(estimate.per_episode, per_episode, rtol=1e-11, atol=1e-12 * np.abs(per_episode).max())
    np.testing.assert_allclose(estimate.variance, per_episode.var(axis=0, ddof=1) / 5, rtol=1e-10)


@pytest.mark.nojit
def test_every_baseline_and_normalization_matches_the_reference_on_a_tiny_batch():
    """The same check on 3 episodes of at most 6 steps, small enough to run the kernels' Python bodies."""
    theta = np.array([0.3, -0.2, 1.5, 0.4, 0.25])
    short = make_params(max_episode_steps=6)._replace(theta_threshold_radians=0.05)  # some episodes fall early
    batch = engine.rollout(theta, 3, 6, params=short)
    assert len(set(batch.lengths)) > 1
    episodes = [(f.tolist(), list(a), list(r)) for f, a, _, r in masked(batch)]
    scale = np.abs(engine.gradient(batch).grad).max()
    for baseline, normalize in itertools.product(options.BASELINES, options.NORMALIZE):
        estimate = engine.gradient(batch, psi="reward_to_go", gamma=0.9, baseline=baseline, normalize=normalize)
        grad, _ = ref.batch_gradient(theta, episodes, "reward_to_go", "from_start", 0.9, baseline, normalize)
        np.testing.assert_allclose(estimate.grad, grad, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize(("psi", "discount"), [("total_return", "from_start"), ("reward_to_go", "from_start"),
                                               ("reward_to_go", "from_step")])
@pytest.mark.parametrize("baseline", options.STREAMABLE_BASELINES)
@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_streaming_equals_stored(psi, discount, baseline, gamma):
    kwargs = dict(psi=psi, discount=discount, baseline=baseline, gamma=gamma)
    streamed = engine.estimate_gradient(THETA, 8, 3, streaming=True, fisher=True, **kwargs)
    stored = engine.estimate_gradient(THETA, 8, 3, streaming=False, **kwargs)
    assert streamed.batch is None and stored.batch is not None
    np.testing.assert_array_equal(streamed.lengths, stored.lengths)
    np.testing.assert_allclose(streamed.grad, stored.grad, rtol=1e-12, atol=1e-12 * np.abs(stored.grad).max())
    np.testing.assert_allclose(streamed.fisher, stored.fisher, rtol=1e-12)


@pytest.mark.parametrize(("psi", "discount"), [("total_return", "from_start"), ("reward_to_go", "from_start"),
                                               ("reward_to_go", "from_step")])
@pytest.mark.parametrize("gamma", [1.0, 0.9])
@pytest.mark.parametrize("theta", [BALANCING, np.append(BALANCING, -0.3)])
def test_streaming_kernels_match_the_reference_bit_for_bit(psi, discount, gamma, theta):
    """Each compile-time variant of the streaming kernel (psi, Fisher or not, d) gives the plain-Python
    reference's bits, so no specialization changed a result; without the Fisher matrix nothing else changes."""
    seed, m = 21, 5
    kwargs = dict(psi=psi, discount=discount, gamma=gamma, streaming=True)
    full = engine.estimate_gradient(theta, m, seed, fisher=True, **kwargs)
    lean = engine.estimate_gradient(theta, m, seed, **kwargs)
    assert lean.fisher is None
    for name in ("grad", "per_episode", "lengths", "returns"):
        assert getattr(lean, name).tobytes() == getattr(full, name).tobytes(), name
    states0 = np.random.default_rng(seed).uniform(-0.05, 0.05, (m, 4))
    fisher = np.zeros((len(theta), len(theta)))
    for i in range(m):
        uniforms = ref.xoshiro_uniforms(key_of(seed, m), i, 500)
        length, grad, _, fisher_i, _, total = ref.stream_episode(theta.tolist(), states0[i], uniforms, psi, discount,
                                                                 gamma)
        assert (full.lengths[i], full.returns[i]) == (length, total)
        assert full.per_episode[i].tobytes() == np.array(grad).tobytes(), i
        fisher += np.array(fisher_i)
    assert full.fisher.tobytes() == (fisher / m).tobytes()


@pytest.mark.nojit
def test_fisher_matches_reference():
    batch = engine.rollout(THETA, 3, 11)
    expected = np.zeros((4, 4))
    for f, _, z, _ in masked(batch):
        p = np.array([ref.sigmoid(v) for v in z])
        expected += (f.T * (p * (1 - p))) @ f
    np.testing.assert_allclose(engine.gradient(batch).fisher, expected / 3, rtol=1e-12)


def test_parallel_is_bit_identical_to_serial():
    for kwargs in ({"baseline": "per_timestep"}, {"baseline": "batch_mean", "streaming": True}):
        serial = engine.estimate_gradient(THETA, 64, 5, threads=1, **kwargs)
        parallel = engine.estimate_gradient(THETA, 64, 5, threads=2, **kwargs)
        assert serial.grad.tobytes() == parallel.grad.tobytes()
        assert serial.per_episode.tobytes() == parallel.per_episode.tobytes()
        np.testing.assert_array_equal(serial.lengths, parallel.lengths)


SUBPROCESS = """
import numpy as np
from fastpg.pg import engine, options
theta = np.array([0.05, 0.4, 3.0, 0.9])
for kwargs in ({"baseline": "per_timestep"}, {"streaming": True}):
    print(engine.estimate_gradient(theta, 32, 9, threads=8, **kwargs).grad.tobytes().hex())
"""


def test_same_seed_same_gradient_in_fresh_processes_at_any_thread_count():
    expected = "".join(engine.estimate_gradient(THETA, 32, 9, **kwargs).grad.tobytes().hex() + "\n"
                       for kwargs in ({"baseline": "per_timestep"}, {"streaming": True}))
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", SUBPROCESS], env=env, capture_output=True, text=True, check=True)
        assert out.stdout == expected, f"NUMBA_NUM_THREADS={threads}"


@pytest.mark.parametrize("baseline", list(options.BASELINES))
@pytest.mark.parametrize("normalize", [False, True])
def test_reweighting_a_batch_at_its_own_theta_gives_its_own_estimate(baseline, normalize):
    from fastpg.pg.offpolicy import importance_weights, reweighted_gradient

    estimate = engine.estimate_gradient(THETA * 0.3, 6, 7, baseline=baseline, normalize=normalize, streaming=False)
    weights = importance_weights(estimate.batch, THETA * 0.3, self_normalize=True)
    again = reweighted_gradient(estimate.batch, estimate.advantages, THETA * 0.3, weights)
    np.testing.assert_allclose(again, estimate.grad, rtol=1e-12, atol=1e-12 * np.abs(estimate.grad).max())


@pytest.mark.parametrize(("psi", "discount", "baseline", "normalize"), ESTIMATORS)
@pytest.mark.parametrize("per_decision", [False, True])
def test_offpolicy_gradient_at_its_own_theta_gives_its_own_estimate(psi, discount, baseline, normalize, per_decision):
    from fastpg.pg.offpolicy import importance_weights, offpolicy_gradient

    kwargs = {"psi": psi, "discount": discount, "gamma": 0.95, "baseline": baseline, "normalize": normalize}
    estimate = engine.estimate_gradient(THETA * 0.3, 6, 7, streaming=False, **kwargs)
    weights = importance_weights(estimate.batch, THETA * 0.3, per_decision=per_decision, self_normalize=True)
    again = offpolicy_gradient(estimate.batch, THETA * 0.3, weights, **kwargs)
    np.testing.assert_allclose(again, estimate.grad, rtol=1e-11, atol=1e-11 * np.abs(estimate.grad).max())


@pytest.mark.parametrize("baseline", ["per_timestep", "per_timestep_score_weighted"])
@pytest.mark.parametrize("normalize", [False, True])
def test_offpolicy_gradient_matches_a_per_reward_reference(baseline, normalize):
    """Per decision: sum_t s^new_t c (sum_t' rho_{0:t'} r_t' - rho_{0:t} (b_t + mu)), straight from the definition."""
    from fastpg.pg.offpolicy import importance_weights, offpolicy_gradient

    theta_new = BALANCING + np.array([0.1, -0.2, 0.5, 0.3])
    estimate = engine.estimate_gradient(BALANCING, 4, 12, baseline=baseline, normalize=normalize, streaming=False)
    batch = estimate.batch
    weights = importance_weights(batch, theta_new, per_decision=True)
    got = offpolicy_gradient(batch, theta_new, weights, baseline=baseline, normalize=normalize)
    m, _, d = batch.features.shape
    raw = engine.gradient(batch, baseline=baseline).advantages  # Psi - b, unnormalized
    steps = np.concatenate([raw[i, :n] for i, n in enumerate(batch.lengths)])
    mu, c = (steps.mean(axis=0), 1.0 / (steps.std(axis=0) + 1e-8)) if normalize else (np.zeros(d), np.ones(d))
    expected = np.zeros(d)
    for i in range(m):
        n = batch.lengths[i]
        w, r = weights.per_step[i, :n], batch.rewards[i, :n]
        psis = np.cumsum(r[::-1])[::-1]
        for t in range(n):
            s_new = ref.score(theta_new, batch.features[i, t], batch.left[i, t])
            b = psis[t] - raw[i, t]
            expected += s_new * c * (float(w[t:] @ r[t:]) - w[t] * (b + mu))
    expected /= m
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


SURVIVOR = np.array([-0.5, -2.0, -20.0, -5.0])  # every episode of the batch below is truncated at 500 steps


@pytest.mark.parametrize("baseline", ["per_timestep", "per_timestep_loo", "per_timestep_score_weighted", "none",
                                      "batch_mean", "batch_mean_loo"])
@pytest.mark.parametrize("normalize", ["batch", "episode"])
@pytest.mark.parametrize(("psi", "discount", "gamma"), [("reward_to_go", "from_start", 1.0),
                                                        ("reward_to_go", "from_start", 0.95),
                                                        ("reward_to_go", "from_step", 0.95),
                                                        ("total_return", "from_start", 0.95)])
def test_normalizing_advantages_without_spread_gives_an_exactly_zero_gradient(baseline, normalize, psi, discount,
                                                                            gamma):
    """Equal advantages (up to rounding) have no direction: the normalized gradient is 0, not noise / 1e-8.

    Before, per_timestep_score_weighted gave |grad| ~ 3e-6 here (rounding of sum s^2 Psi / sum s^2 scaled by 1e8).
    """
    batch = engine.rollout(SURVIVOR, 4, 0)
    assert (batch.lengths == 500).all()
    estimate = engine.gradient(batch, psi=psi, discount=discount, gamma=gamma, baseline=baseline, normalize=normalize)
    if baseline.startswith("per_timestep") or psi == "total_return":  # no spread, in the batch or any episode
        assert (estimate.grad == 0.0).all() and (estimate.advantages == 0.0).all()
        assert (estimate.per_episode == 0.0).all()


@pytest.mark.parametrize("baseline", ["per_timestep", "per_timestep_score_weighted"])
def test_the_natural_step_does_not_move_theta_from_a_batch_without_spread(baseline):
    from fastpg.training import TrainConfig, loop

    config = TrainConfig(optimizer="natural", baseline=baseline, normalize=True)
    estimate = engine.gradient(engine.rollout(SURVIVOR, config.batch_size, 0), psi=config.psi, gamma=config.gamma,
                               discount=config.discount, baseline=baseline, normalize=True)
    delta, kl = loop._step(config, loop._State(SURVIVOR.copy(), None), estimate, estimate.grad, config.lr)
    assert (delta == 0.0).all() and kl == 0.0


def test_a_tiny_spread_survives_normalization():
    """Only rounding-level spreads are zeroed: one reward differing by 1e-3 still gives unit-variance advantages."""
    batch = engine.rollout(SURVIVOR, 4, 0)  # equal returns: no spread until one reward is changed
    rewards = batch.rewards.copy()
    rewards[0, 0] += 1e-3
    tweaked = Batch(batch.theta, batch.features, batch.left, batch.logits, rewards, batch.lengths)
    estimate = engine.gradient(tweaked, psi="total_return", baseline="none", normalize=True)
    mask = np.arange(batch.left.shape[1]) < batch.lengths[:, None]
    assert abs(estimate.advantages[mask].std(axis=0) - 1.0).max() < 1e-4  # std / (std + 1e-8)


@pytest.mark.nojit
def test_mean_rows_is_numpys_mean_over_axis_0():
    from fastpg.pg._estimators import mean_rows

    rng = np.random.default_rng(5)
    for m in (1, 2, 3, 7, 8, 9, 16, 100, 1000):
        for d in (4, 5):
            values = rng.normal(size=(m, d)) * rng.choice([1e-8, 1.0, 1e8], size=(m, 1))
            out = np.empty(d)
            mean_rows(values, out)
            assert out.tobytes() == (np.add.reduce(values, axis=0) / m).tobytes(), (m, d)
