"""The step kernels against the plain-Python reference and Gymnasium's own CartPoleEnv, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv as GymCartPole
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpg.cartpole.kernels import cartpole_step, cartpole_step_batch
from fastpg.cartpole.spec import CartPoleParams, make_params

from . import reference
from .conftest import assert_bitwise

INTEGRATORS = ["euler", "semi-implicit euler"]


def random_states(rng, n):
    """States across and beyond the non-terminal region."""
    scale = np.array([3.0, 3.0, 0.3, 4.0])
    return rng.uniform(-1, 1, size=(n, 4)) * scale


@pytest.mark.nojit
@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_step_matches_reference_and_gymnasium(integrator):
    params = make_params(kinematics_integrator=integrator).as_array()
    gym_env = GymCartPole()
    gym_env.kinematics_integrator = integrator
    gym_env.reset(seed=0)
    rng = np.random.default_rng(1)
    for state0, action in zip(random_states(rng, 300), rng.integers(0, 2, 300)):
        state = state0.copy()
        obs = np.empty(4, dtype=np.float32)
        terminated = cartpole_step(state, int(action), params, obs)
        ref_state, ref_terminated = reference.step(state0, action, integrator)
        assert_bitwise(state, np.array(ref_state), "state vs reference", theta=state0[2])
        assert terminated == ref_terminated
        gym_env.state = state0.copy()
        gym_env.steps_beyond_terminated = None
        gym_obs, _, gym_terminated, _, _ = gym_env.step(int(action))
        assert_bitwise(obs, gym_obs, "observation vs Gymnasium", theta=state0[2])
        assert_bitwise(state, gym_env.state, "state vs Gymnasium", theta=state0[2])
        assert terminated == gym_terminated


@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_batch_equals_single_steps(integrator):
    params = make_params(kinematics_integrator=integrator).as_array()
    rng = np.random.default_rng(2)
    states = random_states(rng, 1000)
    actions = rng.integers(0, 2, 1000)
    expected = states.copy()
    expected_term = np.array(
        [cartpole_step(row, int(a), params, np.empty(4, np.float32)) for row, a in zip(expected, actions)]
    )
    terminated = np.empty(1000, dtype=np.bool_)
    cartpole_step_batch(states, actions, params, terminated)
    assert_bitwise(states, expected, "batch states")
    np.testing.assert_array_equal(terminated, expected_term)


@pytest.mark.nojit
def test_termination_thresholds_are_strict():
    p = CartPoleParams()
    params = p.as_array()
    obs = np.empty(4, dtype=np.float32)
    # A state that lands exactly on the threshold after one Euler step does not terminate.
    at_edge = np.array([p.x_threshold - p.tau * 1.0, 1.0, 0.0, 0.0])
    assert reference.step(at_edge, 1)[0][0] == p.x_threshold
    assert not cartpole_step(at_edge, 1, params, obs)
    assert cartpole_step(np.array([p.x_threshold, 1.0, 0.0, 0.0]), 1, params, obs)


@settings(max_examples=300, deadline=None)
@given(
    state=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=4),
    action=st.integers(0, 1),
    integrator=st.sampled_from(INTEGRATORS),
)
def test_step_matches_reference_anywhere(state, action, integrator):
    params = make_params(kinematics_integrator=integrator).as_array()
    s = np.array(state)
    terminated = cartpole_step(s, action, params, np.empty(4, np.float32))
    ref_state, ref_terminated = reference.step(state, action, integrator)
    assert_bitwise(s, np.array(ref_state), "state", theta=state[2])
    assert terminated == ref_terminated


@pytest.mark.nojit
def test_kernels_reject_bad_input():
    params = CartPoleParams().as_array()
    obs = np.empty(4, dtype=np.float32)
    with pytest.raises(ValueError, match="action"):
        cartpole_step(np.zeros(4), 2, params, obs)
    with pytest.raises(ValueError, match="shape"):
        cartpole_step(np.zeros(3), 0, params, obs)
    with pytest.raises(ValueError, match="shape"):
        cartpole_step(np.zeros(4), 0, params[:5].copy(), obs)
    with pytest.raises(ValueError):
        cartpole_step_batch(np.zeros((3, 4)), np.zeros(2, np.int64), params, np.empty(3, np.bool_))
    with pytest.raises(ValueError, match="actions"):
        cartpole_step_batch(np.zeros((2, 4)), np.array([0, 5]), params, np.empty(2, np.bool_))


def test_kernels_reject_wrong_dtypes():
    params = CartPoleParams().as_array()
    with pytest.raises(TypeError):
        cartpole_step(np.zeros(4, np.float32), 0, params, np.empty(4, np.float32))
    with pytest.raises(TypeError):
        cartpole_step(np.zeros((4, 2))[:, 0], 0, params, np.empty(4, np.float32))


@pytest.mark.nojit
def test_squares_are_products_as_in_numpy():
    """Gymnasium squares with ``np.square`` (v * v); libm ``pow(v, 2)`` differs in the last bit here."""
    state0 = np.array([-0.33056192556264397, -1.3340389528275338, -0.13335974596340353, 0.4354201205047432])
    gym_env = GymCartPole()
    gym_env.reset(seed=0)
    gym_env.state = state0.copy()
    gym_env.step(1)
    state = state0.copy()
    cartpole_step(state, 1, CartPoleParams().as_array(), np.empty(4, np.float32))
    assert_bitwise(state, gym_env.state, "state", theta=state0[2])
    assert_bitwise(state, np.array(reference.step(state0, 1)[0]), "state vs reference")
