"""fastpg's ``CartPoleEnv`` as a drop-in for Gymnasium's: its attributes, ``state`` and constants, bit for bit.

Every test does the same thing to ``gym.make("fastpg/CartPole-v1")`` and ``gym.make("CartPole-v1")``
and compares what comes back (observation bits, rewards, flags, ``state`` bits and dtypes).
"""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastpg  # noqa: F401  (registers the envs)

from .conftest import assert_bitwise

CONSTANTS = ("gravity", "masscart", "masspole", "total_mass", "length", "polemass_length", "force_mag", "tau",
             "theta_threshold_radians", "x_threshold")
# A new value per constant (each keeps episodes going for a while), set as a float, as an int or np.float64,
# and as a np.float32 (which Gymnasium's arithmetic treats differently from a float: stepped by NumPy code).
NEW_VALUES = {"gravity": (3.72, 15), "masscart": (2.5, 3), "masspole": (0.35, np.float64(0.2)),
              "total_mass": (1.7, 2), "length": (0.9, 1), "polemass_length": (0.02, np.float64(0.3)),
              "force_mag": (7.5, 20), "tau": (0.01, np.float64(0.03)), "theta_threshold_radians": (0.5, np.float64(0.05)),
              "x_threshold": (1.0, 4)}
SETTINGS = [(name, value) for name, values in NEW_VALUES.items() for value in (*values, np.float32(values[0]))]


def make_pair(integrator="euler", **kwargs):
    ours, theirs = gym.make("fastpg/CartPole-v1", **kwargs), gym.make("CartPole-v1", **kwargs)
    ours.unwrapped.kinematics_integrator = theirs.unwrapped.kinematics_integrator = integrator
    return ours, theirs


def assert_same_state(ours, theirs, where):
    a, b = ours.unwrapped.state, theirs.unwrapped.state
    if b is None:
        assert a is None, where
        return
    assert type(a) is type(b), where
    assert_bitwise(np.asarray(a), np.asarray(b), f"state {where}")


def run_both(ours, theirs, actions, where, read_state_every=5):
    """Step both with ``actions`` (resetting both without a seed when an episode ends), comparing every result.

    ``state`` is compared every few steps only, so that the steps between run on the kernels' fast path.
    """
    ends = 0
    for t, action in enumerate(actions):
        result, expected = ours.step(action), theirs.step(action)
        assert_bitwise(result[0], expected[0], f"obs at {where}, step {t}")
        assert result[1:] == expected[1:], f"{where}, step {t}"
        assert type(result[1]) is type(expected[1])
        if t % read_state_every == 0:
            assert_same_state(ours, theirs, f"{where}, step {t}")
        if result[2] or result[3]:
            ends += 1
            assert_bitwise(ours.reset()[0], theirs.reset()[0], f"reset at {where}, step {t}")
    return ends


def reset_both(ours, theirs, seed, **kwargs):
    assert_bitwise(ours.reset(seed=seed, **kwargs)[0], theirs.reset(seed=seed, **kwargs)[0], f"reset, seed {seed}")


def random_actions(seed, n=300):
    return [int(a) for a in np.random.default_rng(seed).integers(0, 2, n)]


@pytest.mark.nojit
def test_attributes_read_as_gymnasium():
    ours, theirs = make_pair()
    for name in (*CONSTANTS, "kinematics_integrator", "steps_beyond_terminated", "state", "render_mode"):
        a, b = getattr(ours.unwrapped, name), getattr(theirs.unwrapped, name)
        assert a == b and type(a) is type(b), name
        assert ours.get_wrapper_attr(name) == b and ours.has_wrapper_attr(name), name
    reset_both(ours, theirs, 0)
    while not ours.step(1)[2]:
        theirs.step(1)
    theirs.step(1)
    assert ours.unwrapped.steps_beyond_terminated == theirs.unwrapped.steps_beyond_terminated == 0
    reset_both(ours, theirs, 1)
    assert ours.unwrapped.steps_beyond_terminated is theirs.unwrapped.steps_beyond_terminated is None


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
@pytest.mark.parametrize(("name", "value"), SETTINGS, ids=[f"{n}={v!r}" for n, v in SETTINGS])
def test_setting_a_constant_takes_effect_as_in_gymnasium(name, value, integrator):
    ours, theirs = make_pair(integrator)
    reset_both(ours, theirs, 3)
    run_both(ours, theirs, [0, 1, 1, 0, 1], "before")
    setattr(ours.unwrapped, name, value)
    theirs.unwrapped.__setattr__(name, value)
    assert getattr(ours.unwrapped, name) is value
    ends = run_both(ours, theirs, random_actions(len(name)), f"{name}={value!r}")
    assert ends > 0
    # Gymnasium computes total_mass and polemass_length only in __init__: setting the masses leaves them.
    for derived in ("total_mass", "polemass_length"):
        assert getattr(ours.unwrapped, derived) == getattr(theirs.unwrapped, derived)


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_switching_the_integrator_mid_episode(integrator):
    ours, theirs = make_pair()
    reset_both(ours, theirs, 11)
    run_both(ours, theirs, [1, 0, 1], "euler")
    ours.unwrapped.kinematics_integrator = theirs.unwrapped.kinematics_integrator = integrator
    run_both(ours, theirs, random_actions(5), integrator)
    assert ours.unwrapped.kinematics_integrator == integrator


@pytest.mark.nojit
def test_unknown_integrator_is_rejected_unlike_gymnasium():
    """A deliberate difference (README): Gymnasium takes any name but "euler" as semi-implicit Euler."""
    ours, theirs = make_pair()
    theirs.unwrapped.kinematics_integrator = "rk4"  # Gymnasium: silently semi-implicit Euler
    with pytest.raises(ValueError, match="kinematics_integrator"):
        ours.unwrapped.kinematics_integrator = "rk4"
    assert ours.unwrapped.kinematics_integrator == "euler"


def test_wrapper_attr_and_sync_vector_env_attr_access():
    ours, theirs = make_pair()
    for env in (ours, theirs):
        env.set_wrapper_attr("force_mag", 15.0)
        assert env.get_wrapper_attr("force_mag") == 15.0
    reset_both(ours, theirs, 5)
    run_both(ours, theirs, random_actions(5, 100), "set_wrapper_attr")

    ours_vec = gym.vector.SyncVectorEnv([lambda: gym.make("fastpg/CartPole-v1")] * 3)
    theirs_vec = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 3)
    for envs in (ours_vec, theirs_vec):
        assert envs.call("gravity") == envs.get_attr("gravity") == (9.8, 9.8, 9.8)
        envs.set_attr("gravity", [9.81, 3.72, 1.62])
        envs.set_attr("kinematics_integrator", "semi-implicit euler")
        assert envs.get_attr("gravity") == (9.81, 3.72, 1.62)
    assert_bitwise(ours_vec.reset(seed=2)[0], theirs_vec.reset(seed=2)[0], "reset")
    rng = np.random.default_rng(2)
    for t in range(200):
        actions = rng.integers(0, 2, 3)
        for a, b in zip(ours_vec.step(actions)[:4], theirs_vec.step(actions)[:4]):
            assert_bitwise(a, b, f"SyncVectorEnv step {t}")


RANDOM_CONSTANTS = st.fixed_dictionaries({
    "gravity": st.floats(0, 30), "masscart": st.floats(0.01, 5), "masspole": st.floats(0.01, 2),
    "total_mass": st.floats(0.05, 6), "length": st.floats(0.05, 3), "polemass_length": st.floats(0.001, 3),
    "force_mag": st.floats(0, 50) | st.integers(0, 50), "tau": st.floats(0.001, 0.1),
    "theta_threshold_radians": st.floats(0.01, 1.5), "x_threshold": st.floats(0.1, 10),
    "kinematics_integrator": st.sampled_from(["euler", "semi-implicit euler"]),
})


@settings(max_examples=150, deadline=None)
@given(
    constants=RANDOM_CONSTANTS,
    state=st.lists(st.floats(-0.2, 0.2), min_size=4, max_size=4),
    actions=st.lists(st.integers(0, 1), min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_constants_and_states_match_gymnasium(constants, state, actions, seed):
    """Domain randomization: any constants and any starting state give Gymnasium's numbers."""
    # A pole heavier than the whole system can zero Gymnasium's denominator (it then warns; fastpg does not).
    assume(constants["masspole"] < constants["total_mass"])
    ours, theirs = make_pair(disable_env_checker=True)  # observations may leave the space made for the defaults
    reset_both(ours, theirs, seed)
    for env in (ours, theirs):
        for name, value in constants.items():
            setattr(env.unwrapped, name, value)
        env.unwrapped.state = np.array(state)
    run_both(ours, theirs, actions, "random constants", read_state_every=3)


@pytest.mark.nojit
def test_state_is_none_before_the_first_reset():
    ours, theirs = make_pair()
    assert ours.unwrapped.state is None and theirs.unwrapped.state is None
    with pytest.raises(ResetNeeded):
        ours.step(0)


@pytest.mark.nojit
def test_a_saved_state_keeps_its_values_and_restores():
    ours, theirs = make_pair()
    reset_both(ours, theirs, 7)
    run_both(ours, theirs, [1, 1, 0], "before saving")
    saved_ours, saved_theirs = ours.unwrapped.state, theirs.unwrapped.state
    kept = saved_ours.copy()
    run_both(ours, theirs, [0, 0, 1, 1, 1], "after saving")
    assert_bitwise(saved_ours, kept, "saved state after steps")
    assert ours.unwrapped.state is not saved_ours and theirs.unwrapped.state is not saved_theirs
    for _ in range(3):  # a planner: restore, try a branch, restore again
        ours.unwrapped.state, theirs.unwrapped.state = saved_ours, saved_theirs
        run_both(ours, theirs, random_actions(1, 40), "after restoring", read_state_every=1)
        assert_bitwise(saved_ours, kept, "saved state after restoring and stepping")


@pytest.mark.nojit
def test_state_identity_and_in_place_changes_as_in_gymnasium():
    ours, theirs = make_pair()
    reset_both(ours, theirs, 8)
    for env in (ours, theirs):
        state = env.unwrapped.state
        assert env.unwrapped.state is state  # the same object until the next step
        state[2] = 0.15  # changed in place before the step: the step starts from it
        env.step(1)
        assert env.unwrapped.state is not state
        assert state[2] == 0.15
    assert_same_state(ours, theirs, "after an in-place change")
    assigned = np.array([0.1, -0.2, 0.05, 0.3])
    kept = assigned.copy()
    ours.unwrapped.state = assigned
    theirs.unwrapped.state = assigned.copy()
    assert ours.unwrapped.state is assigned  # as Gymnasium: the object assigned, until the next step
    run_both(ours, theirs, [0, 1, 0], "after assigning", read_state_every=1)
    assert_bitwise(assigned, kept, "an assigned array after steps")


STATES = {
    "tuple": (0.01, -0.02, 0.03, 0.04),
    "list": [0.01, -0.02, 0.03, 0.04],
    "float64": np.array([0.01, -0.02, 0.03, 0.04]),
    "float32": np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32),
    "int": np.array([0, 0, 0, 1]),
    "list of ints": [1, 0, 0, -1],
    "float32 scalars": tuple(np.float32(v) for v in (0.01, -0.02, 0.03, 0.04)),
    "mixed": [0.01, np.float32(-0.02), 0, np.float64(0.04)],
}


@pytest.mark.nojit
@pytest.mark.parametrize("kind", list(STATES))
def test_state_accepts_what_gymnasium_accepts(kind):
    ours, theirs = make_pair()
    reset_both(ours, theirs, 9)
    ours.unwrapped.state = copy.deepcopy(STATES[kind])
    theirs.unwrapped.state = copy.deepcopy(STATES[kind])
    run_both(ours, theirs, random_actions(9, 60), kind, read_state_every=1)


@pytest.mark.nojit
def test_restoring_a_state_after_termination_continues_as_in_gymnasium():
    """Stepping after termination raises ResetNeeded unless a state is assigned; then Gymnasium's bookkeeping."""
    for sutton_barto in (False, True):
        ours, theirs = make_pair(sutton_barto_reward=sutton_barto)
        reset_both(ours, theirs, 4)
        saved = {id(env): env.unwrapped.state for env in (ours, theirs)}
        run_both(ours, theirs, [1] * 5, "before termination")
        runs = []
        for env in (ours, theirs):
            while not env.step(1)[2]:
                pass
            env.unwrapped.state = saved[id(env)]
            # Gymnasium's env warns once, on the second termination, and rewards it 0 (-1 with Sutton-Barto).
            run: list = []
            with pytest.warns(UserWarning, match="already returned terminated = True"):
                while not run or not run[-1][2]:
                    run.append(env.step(1))
            runs.append(run)
        assert len(runs[0]) == len(runs[1])
        for t, (result, expected) in enumerate(zip(*runs)):
            assert_bitwise(result[0], expected[0], f"obs at step {t} after restoring")
            assert result[1:] == expected[1:]
        assert runs[0][-1][1] == (-1.0 if sutton_barto else 0.0)
        assert ours.unwrapped.steps_beyond_terminated == theirs.unwrapped.steps_beyond_terminated == 1
        with pytest.raises(ResetNeeded):
            ours.step(1)


def test_deepcopy_and_pickle_continue_identically():
    ours, theirs = make_pair()
    reset_both(ours, theirs, 12)
    run_both(ours, theirs, [1, 0, 0], "before copying")
    ours.unwrapped.force_mag = theirs.unwrapped.force_mag = 12.5
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        clone_theirs = copy.deepcopy(theirs)
        run_both(clone, clone_theirs, random_actions(12, 50), "a copy")


def test_render_follows_the_constants_and_warns_without_a_mode():
    pytest.importorskip("pygame")
    ours, theirs = make_pair(render_mode="rgb_array")
    reset_both(ours, theirs, 3)
    for env in (ours, theirs):
        env.unwrapped.x_threshold, env.unwrapped.length = 1.5, 0.8
        env.unwrapped.state = (0.3, 0.0, 0.1, 0.0)
    np.testing.assert_array_equal(ours.render(), theirs.render())
    ours.close()
    theirs.close()
    for env_id in ("fastpg/CartPole-v1", "CartPole-v1"):
        with pytest.warns(UserWarning, match=f'without specifying any render mode.*gym.make\\("{env_id}"'):
            assert gym.make(env_id).unwrapped.render() is None
