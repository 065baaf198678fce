"""``gymnasium.make("fastpg/CartPole-v*")`` against ``gymnasium.make("CartPole-v*")``, step for step."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import fastpg  # noqa: F401  (registers the envs)
from fastpg.errors import InvalidActionError

from .conftest import assert_bitwise

CONFIGS = [
    (version, integrator, sutton_barto)
    for version in ("v0", "v1")
    for integrator in ("euler", "semi-implicit euler")
    for sutton_barto in (False, True)
]
EPISODES_PER_CONFIG = 1250  # 8 configurations: 10,000 episodes in all


def make_pair(version, integrator, sutton_barto):
    ours = gym.make(f"fastpg/CartPole-{version}", sutton_barto_reward=sutton_barto, kinematics_integrator=integrator)
    theirs = gym.make(f"CartPole-{version}", sutton_barto_reward=sutton_barto)
    theirs.unwrapped.kinematics_integrator = integrator
    return ours, theirs


def actions_for(rng, obs, balancing):
    """A random action, or a noisy balancing controller's so that some episodes reach truncation."""
    if balancing:
        return int(obs[2] + 0.5 * obs[3] + 0.1 * obs[1] + rng.normal(0, 0.02) > 0)
    return int(rng.integers(0, 2))


@pytest.mark.parametrize(("version", "integrator", "sutton_barto"), CONFIGS)
def test_episodes_bit_identical_to_gymnasium(version, integrator, sutton_barto):
    ours, theirs = make_pair(version, integrator, sutton_barto)
    rng = np.random.default_rng([hash(version) % 97, len(integrator), sutton_barto])
    lengths, truncations = [], 0
    for episode in range(EPISODES_PER_CONFIG):
        seed = int(rng.integers(0, 2**31))
        obs, _ = ours.reset(seed=seed)
        gym_obs, _ = theirs.reset(seed=seed)
        assert_bitwise(obs, gym_obs, f"reset obs, seed {seed}")
        balancing = episode % 16 == 0
        done, t = False, 0
        while not done:
            action = actions_for(rng, obs, balancing)
            theta = float(ours.unwrapped.state[2])
            obs, reward, terminated, truncated, info = ours.step(action)
            gym_obs, gym_reward, gym_terminated, gym_truncated, gym_info = theirs.step(action)
            where = f"seed {seed} step {t}"
            assert_bitwise(obs, gym_obs, f"obs at {where}", theta=theta)
            assert (reward, terminated, truncated, info) == (gym_reward, gym_terminated, gym_truncated, gym_info), where
            assert type(reward) is type(gym_reward)
            done = terminated or truncated
            truncations += truncated
            t += 1
        lengths.append(t)
    assert max(lengths) == (200 if version == "v0" else 500), "some episodes must reach truncation"
    assert truncations > 0 and min(lengths) < 20


def test_check_env_warns_only_as_for_gymnasium():
    """check_env's only warnings are the ±inf observation bounds, which Gymnasium's own CartPole has too."""

    def warnings_of(env_id):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(gym.make(env_id).unwrapped)
        return sorted({str(w.message) for w in caught})

    ours = warnings_of("fastpg/CartPole-v1")
    assert ours == warnings_of("CartPole-v1")
    assert all("infinity" in message for message in ours)


def test_spec_and_spaces_match_gymnasium():
    for version in ("v0", "v1"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ours, theirs = gym.make(f"fastpg/CartPole-{version}"), gym.make(f"CartPole-{version}")
        assert ours.observation_space == theirs.observation_space
        assert ours.action_space == theirs.action_space
        assert ours.spec.max_episode_steps == theirs.spec.max_episode_steps
        assert ours.spec.reward_threshold == theirs.spec.reward_threshold
        assert ours.metadata == theirs.metadata


def test_render_rgb_array_matches_gymnasium():
    pytest.importorskip("pygame")
    ours = gym.make("fastpg/CartPole-v1", render_mode="rgb_array")
    theirs = gym.make("CartPole-v1", render_mode="rgb_array")
    ours.reset(seed=3)
    theirs.reset(seed=3)
    for action in (0, 1, 1, 0):
        ours.step(action)
        theirs.step(action)
    frame = ours.render()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, theirs.render())
    ours.close()
    theirs.close()


@pytest.mark.nojit
def test_env_rejects_bad_input():
    env = gym.make("fastpg/CartPole-v1")
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    for bad in (2, -1, 1.0, "1", None, np.array([1]), np.float64(1.0), [0]):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    with pytest.raises(AssertionError):  # Gymnasium's own signal for a bad action
        env.step(3)
    for options, match in (
        ({"low": -0.1, "high": float("nan")}, "finite"),
        ({"low": 0.1, "high": -0.1}, "low"),
        ({"lo": 0.1}, "unknown reset options"),
    ):
        with pytest.raises(ValueError, match=match):
            env.reset(options=options)
    for env_id in ("fastpg/CartPole-v1", "CartPole-v1"):  # an unknown render_mode: Gymnasium's warning, no error
        with pytest.warns(UserWarning, match="render_mode='ascii' that is not in the possible render_modes"):
            assert gym.make(env_id, render_mode="ascii").render_mode == "ascii"
    with pytest.raises(ValueError, match="kinematics_integrator"):
        gym.make("fastpg/CartPole-v1", kinematics_integrator="rk4")


@pytest.mark.nojit
def test_step_after_termination_needs_reset():
    env = gym.make("fastpg/CartPole-v1")
    env.reset(seed=0)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(1)
    with pytest.raises(ResetNeeded):
        env.step(1)
    env.reset()
    env.step(1)


@pytest.mark.nojit
def test_valid_action_types_as_in_gymnasium():
    env = gym.make("fastpg/CartPole-v1")
    env.reset(seed=0)
    for action in (0, 1, True, np.int8(1), np.uint64(0), np.array(1)):
        env.step(action)


@settings(max_examples=200, deadline=None)
@given(
    action=st.one_of(
        st.integers(-5, 5), st.floats(allow_nan=True), st.booleans(), st.text(max_size=2), st.none()
    )
)
def test_any_action_is_accepted_iff_gymnasium_accepts_it(action):
    ours = gym.make("fastpg/CartPole-v1")
    ours.reset(seed=1)
    if gym.spaces.Discrete(2).contains(action):
        ours.step(action)
    else:
        with pytest.raises(InvalidActionError):
            ours.step(action)


@settings(max_examples=100, deadline=None)
@given(low=st.floats(-0.2, 0.0), width=st.floats(0.0, 0.2), seed=st.integers(0, 2**32 - 1))
def test_reset_bounds_match_gymnasium(low, width, seed):
    options = {"low": low, "high": low + width}
    obs, _ = gym.make("fastpg/CartPole-v1").reset(seed=seed, options=options)
    gym_obs, _ = gym.make("CartPole-v1").reset(seed=seed, options=options)
    assert_bitwise(obs, gym_obs, "reset obs")
