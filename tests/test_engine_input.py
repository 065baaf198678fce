"""Bad input to the engine's public functions: clear errors before any kernel runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastpg import make_params
from fastpg.pg import engine, options
from fastpg.pg.offpolicy import importance_weights

THETA = np.zeros(4)


@pytest.mark.nojit
@pytest.mark.parametrize(("theta", "error"), [
    (np.zeros(3), ValueError), (np.zeros(6), ValueError), (np.zeros((2, 2)), ValueError),
    (np.array([0, 0, np.nan, 0]), ValueError), (np.array([0, np.inf, 0, 0]), ValueError),
    (np.array(["a"] * 4), TypeError), ("abcd", TypeError), (None, TypeError), (3.0, TypeError),
    (np.zeros(4, dtype=complex), TypeError),
])
def test_bad_theta(theta, error):
    with pytest.raises(error, match="theta"):
        engine.rollout(theta, 2, 0)


@pytest.mark.nojit
@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"episodes": 0}, ValueError, "episodes"), ({"episodes": 2.5}, TypeError, "episodes"),
    ({"seed": -1}, ValueError, "seed"), ({"seed": "x"}, TypeError, "seed"),
    ({"gamma": 1.5}, ValueError, "gamma"), ({"gamma": -0.1}, ValueError, "gamma"),
    ({"gamma": float("nan")}, ValueError, "gamma"), ({"psi": "advantage"}, ValueError, "psi"),
    ({"baseline": "median"}, ValueError, "baseline"), ({"discount": "both"}, ValueError, "discount"),
    ({"params": "v1"}, TypeError, "params"), ({"episodes": 10**6}, ValueError, "MiB"),
    ({"episodes": 10**6 + 1}, ValueError, "episodes"),
    ({"baseline": "per_timestep", "streaming": True}, ValueError, "streaming"),
    ({"baseline": "optimal_per_timestep"}, ValueError, "now called 'per_timestep_score_weighted'"),
    ({"baseline": "optimal_loo", "episodes": 1}, ValueError, "at least 2 episodes"),
    ({"normalize": "steps"}, ValueError, "normalize"), ({"normalize": 1}, ValueError, "normalize"),
    ({"params": make_params(max_episode_steps=10**7), "episodes": 8}, ValueError, "MiB"),
])
def test_bad_options(kwargs, error, match):
    args = {"episodes": 2, "seed": 0, "baseline": "per_timestep", **kwargs}
    with pytest.raises(error, match=match):
        engine.estimate_gradient(THETA, **args)


@pytest.mark.nojit
def test_bad_importance_inputs():
    batch = engine.rollout(THETA, 2, 0)
    with pytest.raises(ValueError, match="entries"):
        importance_weights(batch, np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        importance_weights(batch, np.array([0, 0, 0, np.nan]))


@settings(max_examples=60, deadline=None)
@given(theta=hnp.arrays(np.float64, st.sampled_from([4, 5]), elements=st.floats(-1e3, 1e3)),
       episodes=st.integers(1, 4), seed=st.integers(0, 2**63 - 1),
       gamma=st.floats(0.0, 1.0), baseline=st.sampled_from(list(options.BASELINES)),
       psi=st.sampled_from(list(options.PSI)), discount=st.sampled_from(list(options.DISCOUNTS)),
       normalize=st.sampled_from([False, True, *options.NORMALIZE]))
def test_any_valid_input_gives_a_finite_estimate(theta, episodes, seed, gamma, baseline, psi, discount, normalize):
    if baseline in options.LEAVE_ONE_OUT_BASELINES and episodes == 1:
        with pytest.raises(ValueError, match="at least 2 episodes"):
            engine.estimate_gradient(theta, episodes, seed, baseline=baseline, normalize=normalize)
        return
    estimate = engine.estimate_gradient(theta, episodes, seed, gamma=gamma, baseline=baseline, psi=psi,
                                        discount=discount, normalize=normalize, fisher=True)
    assert np.isfinite(estimate.grad).all() and np.isfinite(estimate.fisher).all()
    assert ((estimate.lengths >= 1) & (estimate.lengths <= 500)).all()
