"""The vector env against Gymnasium's ``CartPoleVectorEnv`` and a plain-Python reference, bit for bit."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

import fastpg  # noqa: F401  (registers the envs)
from fastpg.errors import InvalidActionError

from .conftest import assert_bitwise
from .reference import VectorReference

STEPS = 2000


def make_vec(env_id, num_envs, **kwargs):
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def assert_same_step(ours, theirs, where):
    for name, a, b in zip(("obs", "reward", "terminated", "truncated"), ours[:4], theirs[:4]):
        assert_bitwise(a, b, f"{name} at {where}")


def mixed_actions(rng, states, t):
    """Random actions, except that even envs balance with a noisy controller for 700 of every 1000 steps.

    Episodes then both terminate and reach truncation.
    """
    n = states.shape[0]
    actions = rng.integers(0, 2, n)
    if t % 1000 < 700:
        balance = states[:, 2] + 0.5 * states[:, 3] + 0.1 * states[:, 1] + rng.normal(0, 0.02, n) > 0
        actions[::2] = balance[::2]
    return actions


@pytest.mark.parametrize("num_envs", [1, 7, 64])
@pytest.mark.parametrize("version", ["v0", "v1"])
@pytest.mark.parametrize("sutton_barto", [False, True])
@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_next_step_bit_identical_to_gymnasium(num_envs, version, sutton_barto, integrator):
    ours = make_vec(f"fastpg/CartPole-{version}", num_envs, sutton_barto_reward=sutton_barto,
                    kinematics_integrator=integrator)
    theirs = make_vec(f"CartPole-{version}", num_envs, sutton_barto_reward=sutton_barto)
    theirs.unwrapped.kinematics_integrator = integrator
    seed = num_envs * 1000 + len(version + integrator) + sutton_barto
    assert_bitwise(ours.reset(seed=seed)[0], theirs.reset(seed=seed)[0], "reset obs")
    rng = np.random.default_rng(seed)
    truncations = terminations = 0
    for t in range(STEPS):
        actions = mixed_actions(rng, ours.unwrapped.states, t)
        result = ours.step(actions)
        assert_same_step(result, theirs.step(actions), f"step {t}")
        assert result[4] == {}
        truncations += int(result[3].sum())
        terminations += int(result[2].sum())
    assert truncations > 0 and terminations > 0
    assert ours.metadata == theirs.metadata
    assert ours.single_observation_space == theirs.single_observation_space
    assert ours.action_space == theirs.action_space and ours.observation_space == theirs.observation_space


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("num_envs", [1, 7, 64])
def test_autoreset_modes_match_reference(mode, num_envs):
    ours = make_vec("fastpg/CartPole-v0", num_envs, autoreset_mode=mode, max_episode_steps=200)
    ref = VectorReference(num_envs, mode=mode, max_steps=200)
    assert_bitwise(ours.reset(seed=num_envs)[0], ref.reset(seed=num_envs), "reset obs")
    assert ours.metadata["autoreset_mode"] is AutoresetMode[mode.upper()]
    rng = np.random.default_rng(num_envs)
    finals = 0
    for t in range(STEPS):
        actions = mixed_actions(rng, ours.unwrapped.states, t)
        result, expected = ours.step(actions), ref.step(actions)
        assert_same_step(result, expected, f"step {t}")
        infos, final_obs = result[4], expected[4]
        if final_obs:
            mask = np.zeros(num_envs, dtype=bool)
            mask[list(final_obs)] = True
            np.testing.assert_array_equal(infos["_final_obs"], mask)
            np.testing.assert_array_equal(infos["_final_info"], mask)
            assert infos["final_info"] == {}
            for i, obs in final_obs.items():
                assert_bitwise(infos["final_obs"][i], obs, f"final obs of env {i} at step {t}")
            assert all(infos["final_obs"][i] is None for i in np.flatnonzero(~mask))
            finals += len(final_obs)
        else:
            assert infos == {}
    assert finals > 0 or mode == "next_step"


@pytest.mark.parametrize("num_envs", [1, 7, 64])
def test_disabled_mode_matches_reference(num_envs):
    ours = make_vec("fastpg/CartPole-v1", num_envs, autoreset_mode=AutoresetMode.DISABLED)
    ref = VectorReference(num_envs, mode="disabled")
    assert_bitwise(ours.reset(seed=7)[0], ref.reset(seed=7), "reset obs")
    rng = np.random.default_rng(num_envs)
    resets = 0
    for t in range(STEPS):
        actions = mixed_actions(rng, ours.unwrapped.states, t)
        result, expected = ours.step(actions), ref.step(actions)
        assert_same_step(result, expected, f"step {t}")
        done = result[2] | result[3]
        if done.any():
            with pytest.raises(ResetNeeded, match="reset_mask"):
                ours.step(actions)
            assert_bitwise(ours.reset(options={"reset_mask": done})[0], ref.reset(mask=done), f"partial reset {t}")
            resets += 1
    assert resets > 0


def test_sync_vector_env_info_format_for_same_step():
    """SAME_STEP infos have the keys and dtypes SyncVectorEnv gives (its numbers differ: one RNG per env)."""
    ours = make_vec("fastpg/CartPole-v1", 3, autoreset_mode="same_step")
    sync = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    ours.reset(seed=0)
    sync.reset(seed=0)
    infos_ours = infos_sync = {}
    while not infos_ours:
        infos_ours = ours.step(np.ones(3, dtype=np.int64))[4]
    while not infos_sync:
        infos_sync = sync.step(np.ones(3, dtype=np.int64))[4]
    assert sorted(infos_ours) == sorted(infos_sync)
    for key in infos_ours:
        if isinstance(infos_ours[key], np.ndarray):
            assert infos_ours[key].dtype == infos_sync[key].dtype, key


@pytest.mark.nojit
def test_bad_input():
    env = make_vec("fastpg/CartPole-v1", 4)
    with pytest.raises(ResetNeeded):
        env.step(np.zeros(4, dtype=np.int64))
    env.reset(seed=0)
    for bad in (np.zeros(3, np.int64), np.zeros((4, 1), np.int64), np.array([0, 1, 2, 0]),
                np.array([0, -1, 0, 0]), np.zeros(4, np.float64), ["a"] * 4, None, 1):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    env.step([0, 1, 1, 0])
    env.step(np.array([True, False, True, False]))
    env.step(np.array([0, 1, 1, 0], dtype=np.uint8))
    for options, error in (({"low": 0.1, "high": -0.1}, ValueError), ({"high": float("inf")}, ValueError),
                           ({"mode": 1}, ValueError), ({"reset_mask": [True] * 4}, TypeError),
                           ({"reset_mask": np.zeros(4, bool)}, ValueError),
                           ({"reset_mask": np.ones(3, bool)}, ValueError),
                           ({"reset_mask": np.ones(4, int)}, ValueError)):
        with pytest.raises(error):
            env.reset(options=options)
    for kwargs in ({"autoreset_mode": "sometimes"}, {"kinematics_integrator": "rk4"}, {"max_episode_steps": 0}):
        with pytest.raises(ValueError):
            make_vec("fastpg/CartPole-v1", 2, **kwargs)
    with pytest.raises(ValueError, match="num_envs"):
        make_vec("fastpg/CartPole-v1", 0)


@settings(max_examples=200, deadline=None)
@given(actions=st.lists(st.integers(-3, 3), min_size=0, max_size=6))
def test_any_actions_accepted_iff_valid(actions):
    env = make_vec("fastpg/CartPole-v1", 4)
    env.reset(seed=1)
    before = env.unwrapped.states.copy()
    if len(actions) == 4 and all(a in (0, 1) for a in actions):
        env.step(actions)
    else:
        with pytest.raises(InvalidActionError):
            env.step(actions)
        assert_bitwise(env.unwrapped.states, before, "state after a rejected step")


def test_render_matches_gymnasium():
    pytest.importorskip("pygame")
    ours = make_vec("fastpg/CartPole-v1", 2, render_mode="rgb_array")
    theirs = make_vec("CartPole-v1", 2, render_mode="rgb_array")
    ours.reset(seed=4)
    theirs.reset(seed=4)
    for a, b in zip(ours.render(), theirs.render()):
        np.testing.assert_array_equal(a, b)
    ours.close()
    theirs.close()


@pytest.mark.nojit
def test_rejected_step_after_an_env_finished_draws_nothing():
    """An invalid action is rejected before the autoreset draws, so later steps stay Gymnasium's."""
    ours = make_vec("fastpg/CartPole-v1", 2)
    theirs = make_vec("CartPole-v1", 2)
    assert_bitwise(ours.reset(seed=5)[0], theirs.reset(seed=5)[0], "reset obs")
    finished = np.zeros(2, dtype=bool)
    while not finished.any():
        result = ours.step(np.array([1, 0]))
        assert_same_step(result, theirs.step(np.array([1, 0])), "before")
        finished = result[2] | result[3]
    state = ours.unwrapped.states.copy()
    for bad in ([2, 0], np.array([0, 3]), np.array([-1, 1])):
        with pytest.raises(InvalidActionError):
            ours.step(bad)
    assert_bitwise(ours.unwrapped.states, state, "state after rejected steps")
    for t in range(60):
        actions = np.array([t % 2, 1])
        assert_same_step(ours.step(actions), theirs.step(actions), f"step {t} after the rejected ones")
