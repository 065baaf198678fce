"""Every public Python entry point, fed hostile arguments: a result or a documented exception, never a crash."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastpg import DEFAULT_PARAMS, TrainConfig, evaluate, evaluate_from, make_params, start_lattice
from fastpg.cartpole import kernels
from fastpg.cartpole.fast import FastCartPoleBatch
from fastpg.errors import FastpgError
from fastpg.pg import engine, natural, offpolicy, policy
from fastpg.pg.offpolicy import ImportanceWeights

from .harness import documented, fuzz
from .strategies import FLOATS, INTS, JUNK, SIZES, arrays, thetas

GYM_ERRORS = (ValueError, TypeError, gym.error.Error, AssertionError)  # Gymnasium documents its own errors
PARAMS = st.one_of(st.just(DEFAULT_PARAMS), st.just(make_params("v0")), st.just(tuple(DEFAULT_PARAMS)), JUNK)
ACTIONS = st.one_of(st.integers(-2, 3), st.sampled_from([np.int64(1), np.float64(0.0), 2**70, 1.5]), JUNK,
                    arrays(hnp.array_shapes(max_dims=2, max_side=4)))


@given(st.sampled_from(["fastpg/CartPole-v1", "fastpg/CartPole-v0"]), st.one_of(INTS, JUNK),
       st.lists(ACTIONS, max_size=30), st.one_of(st.none(), st.dictionaries(st.sampled_from(["low", "high", "x"]),
                                                                             st.one_of(FLOATS, JUNK), max_size=2)))
@fuzz(800)
def test_env(env_id, seed, actions, options):
    """(Bounds beyond float32 give infinite observations, with NumPy's and Gymnasium's warnings, as in Gymnasium.)"""
    warnings.simplefilter("ignore")
    env = gym.make(env_id)
    outcome = documented(lambda: env.reset(seed=seed, options=options), *GYM_ERRORS)
    if isinstance(outcome, BaseException):
        env.reset(seed=0)
    for action in actions:
        step = documented(lambda: env.step(action), *GYM_ERRORS)
        if not isinstance(step, BaseException) and (step[2] or step[3]):
            env.reset()
    env.close()


@given(st.integers(1, 5), st.one_of(INTS, JUNK), st.lists(ACTIONS, max_size=12), st.one_of(st.none(), JUNK))
@fuzz(600)
def test_vector_env(num_envs, seed, actions, options):
    warnings.simplefilter("ignore")  # Gymnasium's own warnings, as for its CartPole
    env = gym.make_vec("fastpg/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    documented(lambda: env.reset(seed=seed, options=options), *GYM_ERRORS)
    env.reset(seed=0)
    for action in actions:
        documented(lambda: env.step(action), *GYM_ERRORS)
    env.close()


@given(SIZES, st.one_of(INTS, JUNK), st.one_of(st.integers(1, 4), INTS, JUNK), PARAMS,
       st.lists(arrays(hnp.array_shapes(max_dims=2, max_side=5)), max_size=4))
@fuzz(400)
def test_fast_batch(num_envs, seed, threads, params, actions):
    batch = documented(lambda: FastCartPoleBatch(num_envs, seed, threads=threads, params=params))
    if isinstance(batch, BaseException):
        return
    batch.reset()
    for action in actions:
        documented(lambda: batch.step(action))
        documented(lambda: batch.rollout(action))


STATE = hnp.arrays(np.float64, 4, elements=FLOATS)
GOOD_PARAMS = st.sampled_from([DEFAULT_PARAMS.as_array(), make_params("v0").as_array()])


@given(STATE, st.integers(0, 1), GOOD_PARAMS, hnp.arrays(np.float64, (3, 4), elements=FLOATS),
       hnp.arrays(np.int64, 3, elements=st.integers(0, 1)))
@fuzz(1000)
def test_raw_kernels(state, action, params, states, actions):
    """Kernels take any float values (nan, inf, extremes) in valid shapes and never fail."""
    obs = np.empty(4, dtype=np.float32)
    with np.errstate(all="ignore"):
        kernels.cartpole_step(state.copy(), action, params, obs)
        done = np.empty(3, dtype=np.bool_)
        kernels.cartpole_step_batch(states.copy(), actions, params, done)


@given(thetas(), SIZES, st.one_of(INTS, JUNK), st.sampled_from(["reward_to_go", "total", "x", 3]),
       st.one_of(FLOATS, JUNK), st.sampled_from(["none", "batch_mean", "per_timestep", "optimal", "?"]),
       st.one_of(st.booleans(), JUNK), st.one_of(st.none(), st.booleans()), st.one_of(st.integers(1, 3), INTS), PARAMS)
@fuzz(1200)
def test_estimate_gradient(theta, episodes, seed, psi, gamma, baseline, normalize, streaming, threads, params):
    estimate = documented(lambda: engine.estimate_gradient(
        theta, episodes, seed, psi=psi, gamma=gamma, baseline=baseline, normalize=normalize, streaming=streaming,
        threads=threads, params=params))
    if not isinstance(estimate, BaseException):
        assert estimate.grad.shape == (np.asarray(theta).shape[0],)


def _batch(seed: int, theta):
    return engine.rollout(theta, 2, seed, params=make_params("v1", max_episode_steps=30))


BATCH_FIELDS = st.sampled_from(["theta", "features", "left", "logits", "rewards", "lengths"])


@given(st.integers(0, 50), BATCH_FIELDS, st.one_of(arrays(elements=FLOATS), JUNK), thetas(),
       st.booleans(), st.booleans(), st.sampled_from(["none", "per_timestep", "optimal"]))
@fuzz(1200)
def test_hand_built_batches(seed, field, value, theta_new, per_decision, normalize, baseline):
    """A Batch with one field replaced (any shape, dtype, value): refused, or every estimator works on it."""
    batch = _batch(seed, np.array([0.1, 0.2, 1.0, 0.5]))
    built = documented(lambda: dataclasses.replace(batch, **{field: value}))
    object.__setattr__(batch, field, value)  # also past the constructor
    for target in (batch, built):
        if isinstance(target, BaseException):
            continue
        documented(lambda: engine.gradient(target, baseline=baseline, normalize=normalize))
        weights = documented(lambda: offpolicy.importance_weights(target, theta_new, per_decision=per_decision))
        if isinstance(weights, ImportanceWeights):
            documented(lambda: offpolicy.offpolicy_gradient(target, theta_new, weights, baseline=baseline))
            advantages = np.zeros(target.features.shape) if hasattr(target.features, "shape") else None
            documented(lambda: offpolicy.reweighted_gradient(target, advantages, theta_new, weights))


@given(st.integers(0, 30), thetas(), st.one_of(arrays(elements=FLOATS), JUNK), st.one_of(arrays(elements=FLOATS),
       JUNK), st.one_of(FLOATS, JUNK), st.booleans())
@fuzz(600)
def test_importance_weights_inputs(seed, theta_new, advantages, per_step, ess, per_decision):
    batch = _batch(seed, np.array([0.1, 0.2, 1.0, 0.5]))
    documented(lambda: offpolicy.importance_weights(batch, theta_new, per_decision=per_decision, self_normalize=True))
    weights = documented(lambda: ImportanceWeights(per_step, np.ones(2), ess, per_decision))
    if isinstance(weights, ImportanceWeights):
        documented(lambda: offpolicy.reweighted_gradient(batch, advantages, theta_new, weights))
        documented(lambda: offpolicy.offpolicy_gradient(batch, theta_new, weights))


@given(thetas(), SIZES, st.one_of(INTS, JUNK), st.one_of(st.booleans(), JUNK), PARAMS,
       st.one_of(st.none(), FLOATS, JUNK), st.one_of(st.integers(1, 3), INTS))
@fuzz(1000)
def test_evaluate(theta, episodes, seed, greedy, params, stop_below, threads):
    result = documented(lambda: evaluate(theta, episodes, seed, greedy=greedy, params=params, stop_below=stop_below,
                                         threads=threads))
    if not isinstance(result, BaseException):
        assert result.returns.shape[0] <= episodes and np.isfinite(result.returns).all()


STARTS = st.one_of(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.just(4)), elements=st.floats(-0.3, 0.3)),
                   arrays(elements=FLOATS), JUNK, st.integers(1, 4).map(start_lattice))


@given(thetas(), STARTS, st.one_of(INTS, JUNK), st.one_of(st.booleans(), JUNK), PARAMS,
       st.one_of(st.none(), FLOATS, JUNK), st.one_of(st.integers(1, 3), INTS))
@fuzz(1000)
def test_evaluate_from(theta, starts, seed, greedy, params, stop_below, threads):
    result = documented(lambda: evaluate_from(theta, starts, seed, greedy=greedy, params=params,
                                              stop_below=stop_below, threads=threads))
    if not isinstance(result, BaseException):
        assert result.returns.shape[0] <= len(starts) and np.isfinite(result.returns).all()


@given(st.integers(0, 30), st.one_of(arrays(elements=FLOATS), JUNK), st.one_of(arrays(elements=FLOATS), JUNK),
       st.one_of(FLOATS, JUNK), st.one_of(FLOATS, JUNK), st.one_of(st.integers(1, 4), INTS, JUNK),
       st.one_of(st.integers(0, 12), INTS, JUNK), st.booleans())
@fuzz(800)
def test_natural_step(seed, grad, fisher, delta, damping, episodes, backtracks, line_search):
    theta = np.array([0.1, 0.2, 1.0, 0.5])
    estimate = engine.estimate_gradient(theta, 2, seed, baseline="per_timestep", normalize=True,
                                        params=make_params("v1", max_episode_steps=30))
    batch = estimate.batch
    mask = np.arange(batch.left.shape[1]) < batch.lengths[:, None]
    for g, f in ((estimate.grad, estimate.fisher), (grad, fisher), (grad, estimate.fisher)):
        documented(lambda: natural.natural_step(g, f, delta, damping, batch.features[mask], batch.left[mask],
                                                estimate.advantages[mask], theta, episodes, line_search, backtracks))


@given(st.dictionaries(st.sampled_from(list(dataclasses.asdict(TrainConfig())) + ["lrr", "seeds"]),
                       st.one_of(FLOATS, INTS, JUNK, st.sampled_from(["adam", "natural", "CartPole-v0", "csv"])),
                       max_size=4))
@fuzz(1500)
def test_config(values):
    config = documented(lambda: TrainConfig().replace(**values))
    if isinstance(config, TrainConfig):
        assert TrainConfig(**config.to_dict()) == config


@given(thetas(), st.one_of(arrays(hnp.array_shapes(max_dims=3, max_side=5), elements=FLOATS), JUNK),
       st.sampled_from(["float64", "float32", "int8"]))
@fuzz(800)
def test_policy(theta, observations, dtype):
    from fastpg import Policy

    loaded = documented(lambda: Policy(theta, {}))
    if isinstance(loaded, Policy):
        with np.errstate(all="ignore"):
            documented(lambda: loaded.p_left(observations))
            documented(lambda: loaded.greedy_action(observations))
            documented(lambda: policy.logit(loaded.theta, observations, dtype))


def test_fastpg_errors_are_documented_builtins():
    for kind in FastpgError.__subclasses__():
        assert issubclass(kind, (ValueError, RuntimeError, ImportError)), kind
